"""Keystores: encrypted, private files, never overwritten; clear errors for every mistake."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from eth_account import Account

from ledger.exceptions import (
    AliasExistsError,
    InvalidKeyError,
    UnknownAliasError,
    WrongPasswordError,
)
from ledger.keys import KeyStore, signer_from_env

FAST = 2**4  # scrypt cost for tests only


def test_create_unlock_and_file_modes(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys")
    address = store.create("alice", "pw", scrypt_n=FAST)
    assert store.aliases() == ["alice"]
    assert store.address("alice") == address
    assert store.unlock("alice", "pw").address == address
    assert stat.S_IMODE(store.path("alice").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    assert json.loads(store.path("alice").read_text())["crypto"]["kdf"] == "scrypt"


def test_mistakes_are_named(tmp_path: Path) -> None:
    store = KeyStore(tmp_path)
    store.create("alice", "pw", scrypt_n=FAST)
    with pytest.raises(WrongPasswordError):
        store.unlock("alice", "nope")
    with pytest.raises(UnknownAliasError, match="no key called 'bob'"):
        store.unlock("bob", "pw")
    with pytest.raises(AliasExistsError):
        store.create("alice", "pw", scrypt_n=FAST)
    with pytest.raises(InvalidKeyError, match="not a valid alias"):
        store.create("../evil", "pw", scrypt_n=FAST)
    with pytest.raises(InvalidKeyError, match="not a valid private key"):
        store.import_private_key("carol", "0x1234", "pw", scrypt_n=FAST)


def test_import_private_key_and_keystore(tmp_path: Path) -> None:
    account = Account.create()
    store = KeyStore(tmp_path / "a")
    assert store.import_private_key("k", account.key.hex(), "pw", scrypt_n=FAST) == account.address
    other = KeyStore(tmp_path / "b")
    assert other.import_keystore("copy", store.path("k"), "pw") == account.address
    with pytest.raises(WrongPasswordError):
        other.import_keystore("copy2", store.path("k"), "wrong")
    assert other.aliases() == ["copy"]


def test_signer_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    account = Account.create()
    monkeypatch.setenv("TEST_SIGNER_KEY", account.key.hex())
    signer = signer_from_env("TEST_SIGNER_KEY")
    assert signer is not None
    assert signer.address == account.address
    monkeypatch.setenv("TEST_SIGNER_KEY", "garbage")
    with pytest.raises(InvalidKeyError, match="TEST_SIGNER_KEY"):
        signer_from_env("TEST_SIGNER_KEY")
    monkeypatch.delenv("TEST_SIGNER_KEY")
    assert signer_from_env("TEST_SIGNER_KEY") is None
