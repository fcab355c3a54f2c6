"""The voting domain's errors (the cryptography's own are in ``ledger.voting.crypto.errors``)."""

from __future__ import annotations

from ledger.exceptions import LedgerError


class VotingError(LedgerError):
    """A vote cannot be run, cast or checked as asked."""


class ManifestError(VotingError, ValueError):
    """An election manifest (question, options, method) is malformed."""


class TrusteeVaultError(VotingError):
    """A trustee's secret file is missing, foreign or cannot be unlocked."""


class ElectionStateError(VotingError):
    """The election is not at the step the command needs (e.g. tallying an open vote)."""
