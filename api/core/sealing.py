"""Secrets the API must keep but must not store in clear: sealed with Fernet (AES-128-CBC and
HMAC-SHA256, from the ``cryptography`` package) before they reach the database.

What is sealed: webhook signing secrets (the API needs them back to sign, so they cannot be
hashed as API keys are) and the stored answers of idempotent requests that carry one. Whoever
reads the database file, a backup or a replica without the key sees only tokens.

The keys are ``CITYLEDGER_API_ENCRYPTION_KEYS`` (or ``..._FILE``): Fernet keys, newest first.
The first seals; every one opens, so a new key can be put in front while the old one still
opens what it sealed, and the worker re-seals old tokens under the first key (see
:func:`api.webhooks.housekeeping.reseal`) until the old key can be removed. Without keys one
is derived from ``SECRET_KEY`` (HKDF-SHA256, its own label), and it stays a last-resort
opener when keys are set later, so moving from the derived key to explicit ones needs nothing
else.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ledger.exceptions import ConfigError

if TYPE_CHECKING:
    from api.core.config import Settings

DERIVED_KEY_INFO = b"cityledger-api secrets at rest v1"
"""HKDF's label: the derived key is unrelated to the token-signing use of the same secret."""


class SealingError(ConfigError):
    """Sealed data cannot be opened with the configured keys (the key that sealed it was
    removed, or the data was changed): a configuration problem, answered 503."""


class InvalidEncryptionKey(ConfigError):
    """A configured key is not a Fernet key."""


def parse_keys(text: str) -> list[bytes]:
    """Fernet keys from ``text``: separated by commas, spaces or new lines, newest first."""
    keys = [part.strip().encode() for part in text.replace(",", " ").split()]
    if not keys:
        raise InvalidEncryptionKey("CITYLEDGER_API_ENCRYPTION_KEYS is set but holds no key")
    for number, key in enumerate(keys, 1):
        try:
            valid = len(base64.urlsafe_b64decode(key)) == 32
        except (binascii.Error, ValueError):
            valid = False
        if not valid:
            raise InvalidEncryptionKey(
                f"encryption key {number} is not a Fernet key (32 bytes, url-safe base64): "
                'make one with python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"'
            )
    return keys


def derive_key(secret: str) -> bytes:
    """The Fernet key derived from the API's ``SECRET_KEY``."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=DERIVED_KEY_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(secret.encode()))


class Sealer:
    """Seals text with the first key and opens what any of the keys sealed."""

    def __init__(self, keys: Sequence[bytes], *, explicit: bool) -> None:
        if not keys:
            raise InvalidEncryptionKey("no encryption key")
        self._primary = Fernet(keys[0])
        self._all = MultiFernet([Fernet(k) for k in dict.fromkeys(keys)])
        self.explicit = explicit
        """False when the only key is the one derived from ``SECRET_KEY``."""

    def seal(self, text: str) -> str:
        return self._all.encrypt(text.encode()).decode("ascii")

    def open(self, token: str) -> str:
        try:
            return self._all.decrypt(token.encode("ascii")).decode()
        except (InvalidToken, UnicodeError):
            raise SealingError(
                "a stored secret cannot be decrypted with CITYLEDGER_API_ENCRYPTION_KEYS: "
                "the key that sealed it is no longer configured"
            ) from None

    def is_current(self, token: str) -> bool:
        """Whether ``token`` is sealed under the first key (nothing to re-seal)."""
        try:
            self._primary.decrypt(token.encode("ascii"))
        except (InvalidToken, UnicodeError):
            return False
        return True

    def reseal(self, token: str) -> str:
        """``token`` sealed again under the first key."""
        try:
            return self._all.rotate(token.encode("ascii")).decode("ascii")
        except (InvalidToken, UnicodeError):
            raise SealingError("a stored secret cannot be re-sealed: no key opens it") from None


def sealer_for(settings: Settings) -> Sealer:
    """The sealer of these settings (built once per distinct key set)."""
    keys = settings.encryption_keys
    return _sealer(keys.get_secret_value() if keys is not None else None, settings.secret_key)


@lru_cache(maxsize=8)
def _sealer(keys_text: str | None, secret_key: str) -> Sealer:
    derived = derive_key(secret_key)
    if keys_text is None:
        return Sealer([derived], explicit=False)
    return Sealer([*parse_keys(keys_text), derived], explicit=True)
