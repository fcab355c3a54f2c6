"""Errors of the voting cryptography (``docs/voting-spec.md``, sections 1-5 and 8).

Every error is a :class:`~ledger.exceptions.LedgerError` through :class:`VotingCryptoError`, and
the leaves also subclass ``ValueError`` (bad bytes, a bad proof and a bad choice are all bad
input), as the rest of the project's exceptions do. Messages are whole sentences naming the
option, trustee or field that failed: the public audit shows them to people as the reason a
ballot or a decryption was not counted.
"""

from __future__ import annotations

from ledger.exceptions import LedgerError


class VotingCryptoError(LedgerError):
    """Root of everything the voting cryptography raises."""


class InvalidEncoding(VotingCryptoError, ValueError):
    """Bytes that are not what the spec says they must be: a wrong length or version byte, a point
    that is not on the curve, a scalar that is not below the group order."""


class InvalidProof(VotingCryptoError, ValueError):
    """A zero-knowledge proof does not verify against the statement it claims to prove."""


class InvalidSelection(VotingCryptoError, ValueError):
    """The voter's choices, or the selection bounds of an election, are not allowed.

    Raised before anything is encrypted, so a wallet can never produce a ballot that the
    counting rule would void.
    """


class SelectionCountError(InvalidSelection):
    """Fewer or more options chosen than the election's bounds allow."""


class DecryptionError(VotingCryptoError, ValueError):
    """A tally cannot be decrypted: too few partial decryptions, or a count out of range."""


class CeremonyError(VotingCryptoError, ValueError):
    """The key ceremony must stop: a trustee posted something that does not check.

    ``dealer`` is the 1-based index of the trustee at fault (the administrator removes that
    trustee and starts again, spec section 3), or ``None`` when no single trustee is.
    """

    def __init__(self, message: str, *, dealer: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.dealer = dealer
