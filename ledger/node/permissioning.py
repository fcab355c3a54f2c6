"""Account permissioning like Besu's local ``accounts-allowlist``.

Only listed accounts may send transactions; everyone may read. The list lives in the data
directory as ``permissions_config.toml`` in Besu's own format, so an operator can move a list
between the embedded node and Besu unchanged. Changes through the admin RPC are written to that
file atomically (temp file, fsync, rename) before they take effect, so they survive a crash.
"""

from __future__ import annotations

import os
import threading
import tomllib
from collections.abc import Iterable
from pathlib import Path

import tomli_w
from eth_typing import ChecksumAddress
from eth_utils import is_address, to_checksum_address

from ledger.exceptions import ConfigError

FILE_NAME = "permissions_config.toml"
_KEY = "accounts-allowlist"


class AccountAllowlist:
    """The set of accounts allowed to send transactions, persisted as Besu TOML."""

    def __init__(self, path: Path, accounts: Iterable[str] = ()) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._accounts: set[ChecksumAddress] = {_checked(a) for a in accounts}

    @classmethod
    def open(cls, data_dir: Path, initial: Iterable[str]) -> AccountAllowlist:
        """Load the data directory's list, creating it from ``initial`` on first start."""
        path = data_dir / FILE_NAME
        if not path.exists():
            allowlist = cls(path, initial)
            allowlist._save()
            return allowlist
        allowlist = cls(path)
        allowlist.reload()
        return allowlist

    def reload(self) -> None:
        """Re-read the file (on SIGHUP, after an operator edited it by hand)."""
        try:
            document = tomllib.loads(self.path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read accounts allowlist {self.path}: {exc}") from exc
        entries = document.get(_KEY, [])
        if not isinstance(entries, list):
            raise ConfigError(f"{self.path}: {_KEY} must be a list of addresses")
        try:
            accounts = {_checked(entry) for entry in entries}
        except ValueError as exc:
            raise ConfigError(f"{self.path}: {exc}") from exc
        with self._lock:
            self._accounts = accounts

    def __contains__(self, account: str) -> bool:
        return to_checksum_address(account) in self._accounts

    def accounts(self) -> list[ChecksumAddress]:
        with self._lock:
            return sorted(self._accounts)

    def add(self, accounts: Iterable[str]) -> None:
        """Allow ``accounts``; raises ValueError (and changes nothing) on a bad address."""
        new = {_checked(a) for a in accounts}
        with self._lock:
            self._write(self._accounts | new)

    def remove(self, accounts: Iterable[str]) -> None:
        gone = {_checked(a) for a in accounts}
        with self._lock:
            self._write(self._accounts - gone)

    def _save(self) -> None:
        with self._lock:
            self._write(self._accounts)

    def _write(self, accounts: set[ChecksumAddress]) -> None:
        """Persist ``accounts``, then adopt them: a failed write changes nothing."""
        document = {_KEY: sorted(accounts)}
        tmp = self.path.with_suffix(".tmp")
        with tmp.open("wb") as handle:
            tomli_w.dump(document, handle)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(self.path)
        self._accounts = accounts


def _checked(account: object) -> ChecksumAddress:
    if not isinstance(account, str) or not is_address(account):
        raise ValueError(f"not an account address: {account!r}")
    return to_checksum_address(account)
