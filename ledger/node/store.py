"""A crash-safe key/value store for py-evm on LevelDB (plyvel).

py-evm writes a block as many small puts (trie nodes, headers, receipts, lookups). If those
reached disk one by one, a kill -9 in the middle would leave a half-written block. So writes are
buffered in memory and written with one LevelDB write batch per sealed block (`commit`), which
LevelDB applies atomically: after a crash the store holds every committed block and nothing else.

With ``sync`` (the default) a commit returns only once the batch is fdatasynced in LevelDB's
log file and that file's name is durable in the directory (``dirsync``): a block whose receipts
were served survives kill -9, an OS crash and a power cut, on a file system and disk that honour
fsync. Without it, kill -9 still loses nothing (the data is in the page cache); an OS crash or
power cut may lose the last blocks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import plyvel
from eth.db.backends.base import BaseDB

from ledger.node.dirsync import LogSwitchSync
from ledger.node.errors import StoreCorruptedError

_DELETED = None


class LevelStore(BaseDB):
    """py-evm ``BaseDB`` over LevelDB, with writes held back until :meth:`commit`.

    Reads see uncommitted writes. Readers on other threads are safe: a key is written to
    LevelDB before it leaves the overlay, so it is always in one of the two.
    """

    def __init__(self, path: Path, *, sync: bool = True) -> None:
        path.mkdir(parents=True, exist_ok=True)
        try:
            self._db: Any = plyvel.DB(str(path), create_if_missing=True, paranoid_checks=True)
        except plyvel.CorruptionError as exc:
            raise StoreCorruptedError(f"chain store at {path} is corrupted: {exc}") from exc
        except plyvel.IOError as exc:
            raise StoreCorruptedError(f"cannot open chain store at {path}: {exc}") from exc
        self._overlay: dict[bytes, bytes | None] = {}
        self._sync = sync
        self.path = path
        try:
            self.log_sync = LogSwitchSync(path) if sync else None
        except OSError as exc:
            self._db.close()
            raise StoreCorruptedError(f"cannot sync chain store at {path}: {exc}") from exc

    def __getitem__(self, key: bytes) -> bytes:
        try:
            value = self._overlay[key]
        except KeyError:
            stored: bytes | None = self._db.get(key)
            if stored is None:
                raise KeyError(key) from None
            return stored
        if value is _DELETED:
            raise KeyError(key)
        return value

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._overlay[key] = value

    def __delitem__(self, key: bytes) -> None:
        if not self._exists(key):
            raise KeyError(key)
        self._overlay[key] = _DELETED

    def _exists(self, key: bytes) -> bool:
        try:
            return self._overlay[key] is not _DELETED
        except KeyError:
            return self._db.get(key) is not None

    @property
    def uncommitted(self) -> int:
        """How many writes are waiting for the next commit."""
        return len(self._overlay)

    def commit(self) -> None:
        """Write every buffered change in one atomic LevelDB batch (fsynced unless disabled)."""
        if not self._overlay:
            return
        # Only the sealer thread writes, so the overlay cannot change under us here.
        with self._db.write_batch(sync=self._sync) as batch:
            for key, value in self._overlay.items():
                if value is _DELETED:
                    batch.delete(key)
                else:
                    batch.put(key, value)
        self._overlay.clear()
        if self.log_sync is not None:
            self.log_sync.after_synced_write()

    def discard(self) -> None:
        """Forget every buffered change (a block that failed half-way)."""
        self._overlay.clear()

    def close(self) -> None:
        if not self._db.closed:
            self._db.close()
