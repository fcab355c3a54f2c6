"""Keys live only in encrypted Ethereum keystore v3 files (eth-account), one per alias.

Files are written with mode 0600 in a 0700 directory and never overwritten. scrypt's cost
defaults to n = 2**18 (geth's "standard"); tests and demo data pass a small n explicitly.
A signer is unlocked with a password from a prompt, an environment variable or a file, or for
automation from a private key in an environment variable — never from a setting with a default
or anything that is logged.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.exceptions import (
    AliasExistsError,
    InvalidKeyError,
    UnknownAliasError,
    WrongPasswordError,
)
from ledger.secrets import env_secret

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount
    from eth_typing import ChecksumAddress

# eth-account is imported where keys are made, decrypted or used (a second of start-up that
# listing aliases or reading an address does not need).

STANDARD_SCRYPT_N = 2**18
HD_PATH = "m/44'/60'/0'/0/{index}"
"""BIP-44's Ethereum path, as MetaMask, Trust Wallet and `cast wallet` derive accounts."""
MNEMONIC_WORDS = (12, 24)
_ALIAS = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class KeyStore:
    """A directory of keystore files named ``<alias>.json``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def aliases(self) -> list[str]:
        if not self.directory.is_dir():
            return []
        return sorted(p.stem for p in self.directory.glob("*.json"))

    def path(self, alias: str) -> Path:
        _check_alias(alias)
        return self.directory / f"{alias}.json"

    def document(self, alias: str) -> dict[str, Any]:
        """The encrypted keystore JSON (what ``export`` hands out; no secret in clear)."""
        path = self.path(alias)
        try:
            document: dict[str, Any] = json.loads(path.read_text())
        except FileNotFoundError:
            raise UnknownAliasError(
                f"no key called {alias!r} in {self.directory} (see `wallet list`)"
            ) from None
        except json.JSONDecodeError as exc:
            raise InvalidKeyError(f"{path} is not a keystore file: {exc}") from exc
        return document

    def address(self, alias: str) -> ChecksumAddress:
        from eth_utils import to_checksum_address

        try:
            return to_checksum_address(self.document(alias)["address"])
        except (KeyError, ValueError) as exc:
            raise InvalidKeyError(f"{self.path(alias)} has no valid address") from exc

    def alias_of(self, address: str) -> str | None:
        from eth_utils import to_checksum_address

        wanted = to_checksum_address(address)
        return next((a for a in self.aliases() if self.address(a) == wanted), None)

    def create(
        self, alias: str, password: str, *, scrypt_n: int = STANDARD_SCRYPT_N
    ) -> ChecksumAddress:
        from eth_account import Account

        return self._store(alias, Account.create(), password, scrypt_n)

    def import_private_key(
        self, alias: str, private_key: str, password: str, *, scrypt_n: int = STANDARD_SCRYPT_N
    ) -> ChecksumAddress:
        from eth_account import Account

        try:
            account = Account.from_key(private_key.strip())
        except (ValueError, TypeError) as exc:
            raise InvalidKeyError("that is not a valid private key (64 hex digits)") from exc
        return self._store(alias, account, password, scrypt_n)

    def import_mnemonic(
        self,
        alias: str,
        phrase: str,
        password: str,
        *,
        index: int = 0,
        scrypt_n: int = STANDARD_SCRYPT_N,
    ) -> ChecksumAddress:
        """Store the account a BIP-39 recovery phrase derives at ``HD_PATH`` ``index``."""
        return self._store(alias, account_from_mnemonic(phrase, index), password, scrypt_n)

    def import_keystore(self, alias: str, source: Path, password: str) -> ChecksumAddress:
        """Copy a keystore file in after proving the password opens it."""
        from eth_account import Account

        try:
            document = json.loads(source.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise InvalidKeyError(f"{source} is not a readable keystore file") from exc
        account: LocalAccount = Account.from_key(_decrypt(document, password))
        self._write(alias, document)
        return account.address

    def unlock(self, alias: str, password: str) -> LocalAccount:
        from eth_account import Account

        account: LocalAccount = Account.from_key(_decrypt(self.document(alias), password))
        return account

    def _store(
        self, alias: str, account: LocalAccount, password: str, scrypt_n: int
    ) -> ChecksumAddress:
        from eth_account import Account

        document = Account.encrypt(account.key, password, kdf="scrypt", iterations=scrypt_n)
        self._write(alias, document)
        return account.address

    def _write(self, alias: str, document: dict[str, Any]) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            write_private(self.path(alias), json.dumps(document))
        except FileExistsError:
            raise AliasExistsError(f"a key called {alias!r} exists already") from None


def write_private(path: Path, text: str, *, replace: bool = False) -> None:
    """Write a secret-bearing file readable by its owner only (mode 0600 from creation, so
    there is no moment it is world-readable); never overwrite one unless ``replace``."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if replace else os.O_EXCL)
    with os.fdopen(os.open(path, flags, 0o600), "w") as handle:
        handle.write(text)


def new_mnemonic(words: int = 12) -> str:
    """A new BIP-39 recovery phrase (English) of 12 or 24 words, from eth-account."""
    from eth_account.hdaccount import generate_mnemonic
    from eth_account.types import Language

    if words not in MNEMONIC_WORDS:
        raise InvalidKeyError(f"a recovery phrase has 12 or 24 words, not {words}")
    return str(generate_mnemonic(words, Language.ENGLISH))


def account_from_mnemonic(phrase: str, index: int = 0) -> LocalAccount:
    """The account a BIP-39 phrase derives at ``m/44'/60'/0'/0/index`` (eth-account's HD
    wallet; the BIP-32/39 code is its, not ours)."""
    from eth_account import Account
    from eth_account.hdaccount.mnemonic import Mnemonic
    from eth_account.types import Language

    if not 0 <= index < 2**31:
        raise InvalidKeyError(f"the account index must be 0 to {2**31 - 1}, not {index}")
    words = " ".join(phrase.split()).lower()
    count = len(words.split())
    if count not in (12, 15, 18, 21, 24):
        raise InvalidKeyError(f"a recovery phrase has 12 to 24 words, not {count}: check it")
    english = Mnemonic(Language.ENGLISH)
    unknown = [w for w in words.split() if w not in english.wordlist]
    if unknown:
        raise InvalidKeyError(f"not words of the BIP-39 English list: {', '.join(unknown)}")
    if not english.is_mnemonic_valid(words):
        raise InvalidKeyError(
            "the recovery phrase's checksum does not match: a word is wrong or out of order"
        )
    Account.enable_unaudited_hdwallet_features()
    account: LocalAccount = Account.from_mnemonic(words, account_path=HD_PATH.format(index=index))
    return account


def signer_from_env(variable: str) -> LocalAccount | None:
    """A signer from a private key in ``$variable`` or its file (for services and CI), if set."""
    from eth_account import Account

    value = env_secret(variable)
    if value is None:
        return None
    try:
        account: LocalAccount = Account.from_key(value.strip())
    except (ValueError, TypeError) as exc:
        raise InvalidKeyError(f"${variable} does not hold a valid private key") from exc
    return account


def _decrypt(document: dict[str, Any], password: str) -> bytes:
    from eth_account import Account

    try:
        return bytes(Account.decrypt(document, password))
    except ValueError as exc:
        if "MAC mismatch" in str(exc):
            raise WrongPasswordError("wrong password for this key") from None
        raise InvalidKeyError(f"not a usable keystore: {exc}") from exc
    except (KeyError, TypeError) as exc:
        raise InvalidKeyError("not a keystore v3 document") from exc


def _check_alias(alias: str) -> None:
    if not _ALIAS.match(alias):
        raise InvalidKeyError(
            f"{alias!r} is not a valid alias: use 1-40 lowercase letters, digits, - or _"
        )
