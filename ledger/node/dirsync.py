"""Make LevelDB's new log files durable before a block that lives in one is acknowledged.

Each block is one LevelDB write batch with ``sync=True``: LevelDB appends it to its log file and
fdatasyncs that file. But every ~4 MB (the memtable size) LevelDB starts a new log file inside
the write, and it syncs the directory, which holds the new file's name, only when it next
writes its MANIFEST, after a background compaction ~0.2 s later. A block acknowledged in that
window sat in a file whose name a power cut could lose on file systems that do not order the
two (ext4 journals the create with the file, others need the directory fsync). LevelDB also
renames ``CURRENT`` at open without syncing the directory.

So the store fsyncs the directory once when it opens it, and after a synced commit looks at
the log file it knows: if the file did not grow, the commit went to a new one, and the store
fsyncs the directory before the commit returns, which is before the block's receipts can be
served. A ``stat`` per block is the whole cost; the directory fsync happens once per log file.
"""

from __future__ import annotations

import os
from pathlib import Path


def sync_directory(path: Path) -> None:
    """fsync ``path`` itself, making the names of the files in it durable."""
    descriptor = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


class LogSwitchSync:
    """Watches one LevelDB directory's write-ahead log; syncs the directory when it changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.directory_syncs = 0
        self._log, self._size = _newest_log(path)
        self._sync()  # LevelDB's open renamed CURRENT and may have created a log unsynced

    def after_synced_write(self) -> None:
        """Call after each ``sync=True`` write batch, before acknowledging it."""
        if self._log is not None:
            try:
                size = os.stat(self._log).st_size
            except FileNotFoundError:
                size = -1
            if size > self._size:
                self._size = size
                return
        log, size = _newest_log(self.path)
        if log != self._log:
            self._sync()
        self._log, self._size = log, size

    def _sync(self) -> None:
        sync_directory(self.path)
        self.directory_syncs += 1


def _newest_log(path: Path) -> tuple[Path | None, int]:
    """LevelDB's current log file (``NNNNNN.log``, highest number) and its size."""
    numbered = [
        entry
        for entry in os.scandir(path)
        if entry.name.endswith(".log") and entry.name[:-4].isdigit()
    ]
    if not numbered:
        return None, -1
    newest = max(numbered, key=lambda entry: int(entry.name[:-4]))
    return Path(newest.path), newest.stat().st_size
