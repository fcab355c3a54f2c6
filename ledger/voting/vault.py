"""A trustee's secrets for one election, encrypted at rest.

Between the rounds of the key ceremony a trustee must keep its polynomial and share-encryption
key, and after it the secret share it decrypts the tally with; losing them loses the trustee's
part, leaking them lets one person decrypt individual ballots with k-1 others. They are kept in
one file per (election, trustee), encrypted like a keystore: scrypt from the trustee's password,
AES-256-GCM with the file's identity (chain, contract, election, trustee) as associated data, so a
file copied to another election or trustee does not open. Updates replace the file atomically.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from eth_utils import to_checksum_address

from ledger.keys import STANDARD_SCRYPT_N
from ledger.voting.crypto import ElectionContext, TrusteeSecrets
from ledger.voting.errors import TrusteeVaultError

VERSION = 1


@dataclass(frozen=True, slots=True)
class TrusteeState:
    """What a trustee holds: its ceremony secrets and, once the shares arrived, its share."""

    secrets: TrusteeSecrets
    share: int | None = None


@dataclass(frozen=True, slots=True)
class TrusteeVault:
    """The encrypted file of one trustee in one election."""

    directory: Path
    context: ElectionContext
    trustee: str
    scrypt_n: int = STANDARD_SCRYPT_N

    @property
    def path(self) -> Path:
        address = to_checksum_address(self.trustee)
        return (
            self.directory
            / f"chain-{self.context.chain_id}"
            / f"election-{self.context.election_id}-{address}.json"
        )

    def exists(self) -> bool:
        return self.path.exists()

    def _identity(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "chainId": self.context.chain_id,
            "elections": to_checksum_address(self.context.contract),
            "electionId": self.context.election_id,
            "trustee": to_checksum_address(self.trustee),
        }

    def save(self, state: TrusteeState, password: str) -> None:
        identity = self._identity()
        salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
        key = _derive(password, salt, self.scrypt_n)
        plaintext = json.dumps(
            {
                "secrets": state.secrets.to_bytes().hex(),
                "share": None if state.share is None else f"{state.share:064x}",
            }
        ).encode()
        document = identity | {
            "kdf": {"name": "scrypt", "n": self.scrypt_n, "r": 8, "p": 1, "salt": salt.hex()},
            "cipher": {"name": "aes-256-gcm", "nonce": nonce.hex()},
            "ciphertext": AESGCM(key).encrypt(nonce, plaintext, _aad(identity)).hex(),
        }
        _replace_private(self.path, json.dumps(document, indent=2))

    def load(self, password: str) -> TrusteeState:
        try:
            document = json.loads(self.path.read_text())
        except FileNotFoundError:
            raise TrusteeVaultError(
                f"no trustee secrets at {self.path}: run `cityledger election trustee-keygen` "
                "as this trustee first (on the machine that ran it)"
            ) from None
        except (OSError, json.JSONDecodeError) as exc:
            raise TrusteeVaultError(f"cannot read {self.path}: {exc}") from exc
        identity = self._identity()
        if {k: document.get(k) for k in identity} != identity:
            raise TrusteeVaultError(f"{self.path} belongs to another election or trustee")
        try:
            kdf, cipher = document["kdf"], document["cipher"]
            key = _derive(password, bytes.fromhex(kdf["salt"]), int(kdf["n"]))
            plaintext = AESGCM(key).decrypt(
                bytes.fromhex(cipher["nonce"]),
                bytes.fromhex(document["ciphertext"]),
                _aad(identity),
            )
        except InvalidTag:
            raise TrusteeVaultError("wrong password for these trustee secrets") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise TrusteeVaultError(f"{self.path} is not a trustee secrets file: {exc}") from exc
        content = json.loads(plaintext)
        share = content["share"]
        return TrusteeState(
            TrusteeSecrets.from_bytes(bytes.fromhex(content["secrets"])),
            None if share is None else int(share, 16),
        )


def _aad(identity: dict[str, Any]) -> bytes:
    return json.dumps(identity, sort_keys=True).encode()


def _derive(password: str, salt: bytes, n: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=8, p=1).derive(password.encode())


def _replace_private(path: Path, text: str) -> None:
    """Write ``path`` (mode 0600) so a crash leaves either the old or the new file whole."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
