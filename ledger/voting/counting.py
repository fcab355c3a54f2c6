"""The counting rule of docs/voting-spec.md section 6, written once.

The tally service, the result the administrator posts, the API's bulletin board and the public
audit all decide which ballots count by calling :func:`count_ballots` (secret ballots) or
:func:`count_votes` (public polls); none of them re-implements the rule. For each voter only the
ballot with the highest sequence is considered, and it counts only if it was cast inside the
window, by an eligible voter, and parses and verifies — otherwise the voter's ballot is void and
an earlier ballot is never revived (a coerced voter's last word is the one that stands).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, TypeVar

from eth_utils import to_checksum_address

from ledger.contracts.elections import selected_options
from ledger.voting.crypto import (
    BallotSpec,
    ElectionContext,
    EncryptedBallot,
    InvalidSelection,
    Point,
    verify_ballots,
)


class CastRecord(Protocol):
    """What the rule needs of a BallotCast or VoteCast event."""

    @property
    def voter(self) -> str: ...

    @property
    def sequence(self) -> int: ...

    @property
    def block_timestamp(self) -> int: ...


C = TypeVar("C", bound=CastRecord)


class BallotStatus(StrEnum):
    """What the rule says of one cast ballot (or public vote)."""

    LIVE = "live"
    """The voter's last ballot while the vote is open: it will count if it verifies."""
    SUPERSEDED = "superseded"
    """A later ballot of the same voter replaced it; it never counts."""
    COUNTED = "counted"
    """The voter's last ballot, cast in the window by an eligible voter, and it verifies."""
    VOID = "void"
    """The voter's last ballot, but it cannot count (the reason says why)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    status: BallotStatus
    reason: str | None = None
    """Why a void ballot does not count, in a sentence."""


COUNTED = Verdict(BallotStatus.COUNTED)
LIVE = Verdict(BallotStatus.LIVE)
SUPERSEDED = Verdict(BallotStatus.SUPERSEDED)


@dataclass(frozen=True, slots=True)
class Window:
    """When ballots are accepted: ``opens_at <= timestamp < closes_at`` (block time)."""

    opens_at: int
    closes_at: int

    def contains(self, timestamp: int) -> bool:
        return self.opens_at <= timestamp < self.closes_at


@dataclass(frozen=True, slots=True)
class Counted:
    """A voter's last ballot, which counts."""

    voter: str
    sequence: int
    ballot: EncryptedBallot


@dataclass(frozen=True, slots=True)
class BallotCount:
    """The outcome of the rule over an election's ballots.

    ``void`` maps each voter whose last ballot does not count to the reason, in a sentence.
    """

    counted: tuple[Counted, ...]
    void: Mapping[str, str]
    superseded: int
    """Ballots replaced by a later ballot of the same voter (re-votes)."""

    @property
    def turnout(self) -> int:
        return len(self.counted)

    @property
    def voters(self) -> frozenset[str]:
        return frozenset(c.voter for c in self.counted)


def last_casts(casts: Iterable[C]) -> tuple[dict[str, C], int]:
    """Each voter's cast with the highest sequence, and how many earlier casts it replaced."""
    last: dict[str, C] = {}
    total = 0
    for cast in casts:
        total += 1
        voter = to_checksum_address(cast.voter)
        held = last.get(voter)
        if held is None or cast.sequence > held.sequence:
            last[voter] = cast
    return last, total - len(last)


def _admissibility(
    cast: CastRecord, window: Window, eligible: Collection[str] | None
) -> str | None:
    """Why a last cast cannot count before its content is looked at, or None."""
    if not window.contains(cast.block_timestamp):
        when = "before the opening" if cast.block_timestamp < window.opens_at else "after the close"
        return (
            f"cast at {cast.block_timestamp}, {when} (window {window.opens_at}-{window.closes_at})"
        )
    if eligible is not None and to_checksum_address(cast.voter) not in eligible:
        return "the voter is not in the eligibility list"
    return None


class BallotCast(CastRecord, Protocol):
    @property
    def ballot(self) -> bytes: ...


def count_ballots(
    casts: Sequence[BallotCast],
    *,
    context: ElectionContext,
    public_key: Point,
    spec: BallotSpec,
    window: Window,
    eligible: Collection[str] | None,
    workers: int | None = None,
) -> BallotCount:
    """Apply the counting rule to a secret election's BallotCast events.

    ``eligible`` is the published eligibility list (checksummed addresses); ``None`` trusts the
    contract's Merkle check, which is what a service without the list file can do.
    """
    last, superseded = last_casts(casts)
    void: dict[str, str] = {}
    to_verify: list[tuple[str, BallotCast]] = []
    for voter, cast in sorted(last.items()):
        reason = _admissibility(cast, window, eligible)
        if reason is None:
            to_verify.append((voter, cast))
        else:
            void[voter] = reason
    verdicts = verify_ballots(
        context,
        public_key,
        spec,
        [(voter, cast.ballot) for voter, cast in to_verify],
        workers=workers,
    )
    counted: list[Counted] = []
    for (voter, cast), verdict in zip(to_verify, verdicts, strict=True):
        if verdict is None:
            counted.append(
                Counted(voter, cast.sequence, EncryptedBallot.from_bytes(cast.ballot, spec))
            )
        else:
            void[voter] = verdict
    return BallotCount(tuple(counted), void, superseded)


def ballot_verdict(
    cast: BallotCast,
    casts: Sequence[BallotCast],
    *,
    context: ElectionContext,
    public_key: Point,
    spec: BallotSpec,
    window: Window,
    eligible: Collection[str] | None,
) -> Verdict:
    """The rule applied to one ballot among ``casts`` of a closed vote: counted, superseded by
    a later ballot of the same voter, or void (with the reason)."""
    last, _ = last_casts(casts)
    voter = to_checksum_address(cast.voter)
    if last[voter].sequence != cast.sequence:
        return SUPERSEDED
    reason = _admissibility(cast, window, eligible)
    if reason is None:
        [reason] = verify_ballots(context, public_key, spec, [(voter, cast.ballot)], workers=1)
    return COUNTED if reason is None else Verdict(BallotStatus.VOID, reason)


class VoteCast(CastRecord, Protocol):
    @property
    def choices(self) -> int: ...


@dataclass(frozen=True, slots=True)
class VoteCount:
    """A public poll's outcome under the same last-vote rule."""

    counts: tuple[int, ...]
    voters: frozenset[str]
    void: Mapping[str, str]
    superseded: int

    @property
    def turnout(self) -> int:
        return len(self.voters)


def count_votes(
    casts: Sequence[VoteCast],
    *,
    spec: BallotSpec,
    window: Window,
    eligible: Collection[str] | None,
) -> VoteCount:
    """Apply the counting rule to a public poll's VoteCast events."""
    last, superseded = last_casts(casts)
    counts = [0] * spec.option_count
    voters: set[str] = set()
    void: dict[str, str] = {}
    for voter, cast in sorted(last.items()):
        reason = _admissibility(cast, window, eligible)
        selected = selected_options(cast.choices)
        if reason is None:
            try:
                spec.check_choices(selected)
            except InvalidSelection as exc:
                reason = str(exc)
        if reason is not None:
            void[voter] = reason
            continue
        voters.add(voter)
        for option in selected:
            counts[option] += 1
    return VoteCount(tuple(counts), frozenset(voters), void, superseded)
