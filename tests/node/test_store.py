"""LevelStore: buffered writes become durable only at commit, in one atomic batch."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger.node.errors import StoreCorruptedError
from ledger.node.store import LevelStore


def test_reads_see_uncommitted_writes_and_commit_makes_them_durable(tmp_path: Path) -> None:
    store = LevelStore(tmp_path / "db", sync=False)
    store[b"a"] = b"1"
    assert store[b"a"] == b"1"
    assert store.uncommitted == 1
    store.commit()
    assert store.uncommitted == 0
    store.close()

    reopened = LevelStore(tmp_path / "db", sync=False)
    assert reopened[b"a"] == b"1"
    reopened.close()


def test_uncommitted_writes_are_lost_on_close(tmp_path: Path) -> None:
    store = LevelStore(tmp_path / "db", sync=False)
    store[b"a"] = b"1"
    store.close()
    reopened = LevelStore(tmp_path / "db", sync=False)
    assert b"a" not in reopened
    reopened.close()


def test_discard_forgets_buffered_writes_and_deletes(tmp_path: Path) -> None:
    store = LevelStore(tmp_path / "db", sync=False)
    store[b"keep"] = b"1"
    store.commit()
    store[b"new"] = b"2"
    del store[b"keep"]
    assert b"keep" not in store
    store.discard()
    assert store[b"keep"] == b"1"
    assert b"new" not in store
    store.close()


def test_delete_is_committed(tmp_path: Path) -> None:
    store = LevelStore(tmp_path / "db", sync=False)
    store[b"k"] = b"v"
    store.commit()
    del store[b"k"]
    store.commit()
    with pytest.raises(KeyError):
        store[b"k"]
    with pytest.raises(KeyError):
        del store[b"missing"]
    store.close()


def test_second_open_of_the_same_directory_is_refused(tmp_path: Path) -> None:
    store = LevelStore(tmp_path / "db", sync=False)
    with pytest.raises(StoreCorruptedError, match="cannot open chain store"):
        LevelStore(tmp_path / "db", sync=False)
    store.close()


def test_garbage_in_the_store_files_is_refused(tmp_path: Path) -> None:
    store = LevelStore(tmp_path / "db", sync=False)
    for i in range(200):
        store[i.to_bytes(4, "big")] = b"x" * 100
    store.commit()
    store.close()
    manifest = next((tmp_path / "db").glob("MANIFEST-*"))
    manifest.write_bytes(b"\xff" * manifest.stat().st_size)
    with pytest.raises(StoreCorruptedError):
        LevelStore(tmp_path / "db", sync=False)
