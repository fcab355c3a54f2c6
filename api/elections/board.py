"""An election's public bulletin board: its casts in chain order, and what the counting rule
(:mod:`ledger.voting.counting`, the one rule) says of each. An open vote's board is kept in
memory and extended by the blocks since its last read; a closed vote's is computed once
(nothing can change it any more)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace

from eth_utils import to_checksum_address

from api.elections.memo import caches
from api.elections.published import eligibility_of
from api.services import Services
from ledger.contracts.elections import (
    BallotCast,
    ElectionKind,
    ElectionPhase,
    ElectionState,
    VoteCast,
)
from ledger.voting import lifecycle
from ledger.voting.counting import (
    COUNTED,
    LIVE,
    SUPERSEDED,
    BallotStatus,
    Verdict,
    count_ballots,
    count_votes,
    last_casts,
)
from ledger.voting.eligibility import EligibilityList
from ledger.voting.record import spec_of, window_of

Cast = BallotCast | VoteCast


@dataclass(frozen=True, slots=True)
class Board:
    """An election's casts in chain order, and what the counting rule says of each voter's last
    one (``live`` while the vote is open; ``counted`` or ``void`` once it is closed)."""

    casts: tuple[Cast, ...]
    last: dict[str, int]
    """Each voter's last sequence number."""
    verdicts: dict[str, Verdict]

    def status(self, cast: Cast) -> Verdict:
        voter = to_checksum_address(cast.voter)
        if cast.sequence != self.last.get(voter):
            return SUPERSEDED
        return self.verdicts.get(voter, LIVE)


def casts_of(
    services: Services,
    state: ElectionState,
    voter: str | None = None,
    *,
    from_block: int | None = None,
    to_block: int | None = None,
) -> list[Cast]:
    read = (
        services.city.elections.votes
        if state.config.kind is ElectionKind.PUBLIC_POLL
        else services.city.elections.ballots
    )
    return list(read(state.id, voter=voter, from_block=from_block, to_block=to_block))


RESCAN_BLOCKS = 8
"""Blocks an open vote's board reads again on each extension: what a reorg of the newest
blocks could have changed (the city chain's QBFT and the embedded node are final; anvil in
development need not be)."""


class LiveCasts:
    """An open vote's casts in chain order, without ballot bytes, read once: each board
    request reads only the blocks since the last (a vote of 20,000 ballots would otherwise
    be megabytes of logs per request)."""

    def __init__(self, created_block: int) -> None:
        self._lock = threading.Lock()
        self.casts_of: list[Cast] = []
        self._through = created_block - 1

    def read(self, services: Services, state: ElectionState) -> tuple[Cast, ...]:
        with self._lock:
            head = services.city.chain.block_number()
            if head > self._through:
                start = max(state.created_block, self._through + 1 - RESCAN_BLOCKS)
                kept = [c for c in self.casts_of if c.block_number < start]
                fresh = casts_of(services, state, from_block=start, to_block=head)
                self.casts_of = kept + [without_bytes(c) for c in fresh]
                self._through = head
            return tuple(self.casts_of)


def without_bytes(cast: Cast) -> Cast:
    """The board lists ballots without their bytes; one ballot's detail reads them again."""
    return replace(cast, ballot=b"") if isinstance(cast, BallotCast) else cast


def live_board(casts: Sequence[Cast]) -> Board:
    last, _ = last_casts(casts)
    return Board(
        tuple(casts),
        {voter: cast.sequence for voter, cast in last.items()},
        dict.fromkeys(last, LIVE),
    )


def counted_board(
    services: Services, state: ElectionState, eligibility: EligibilityList | None
) -> Board:
    """Apply the counting rule to a closed election's casts (docs/voting-spec.md section 6)."""
    casts = casts_of(services, state)
    eligible = frozenset(eligibility.accounts) if eligibility is not None else None
    window = window_of(state.config)
    spec = spec_of(state.config)
    verdicts: dict[str, Verdict] = {}
    if state.config.kind is ElectionKind.PUBLIC_POLL:
        votes = [c for c in casts if isinstance(c, VoteCast)]
        poll = count_votes(votes, spec=spec, window=window, eligible=eligible)
        counted: frozenset[str] = poll.voters
        void = poll.void
    else:
        ballots = [c for c in casts if isinstance(c, BallotCast)]
        count = count_ballots(
            ballots,
            context=lifecycle.context_of(services.city, state.id),
            public_key=lifecycle.public_key_of(state),
            spec=spec,
            window=window,
            eligible=eligible,
        )
        counted, void = count.voters, count.void
        casts = [without_bytes(c) for c in ballots]
    verdicts.update(dict.fromkeys(counted, COUNTED))
    verdicts.update({voter: Verdict(BallotStatus.VOID, reason) for voter, reason in void.items()})
    last, _ = last_casts(casts)
    return Board(tuple(casts), {v: c.sequence for v, c in last.items()}, verdicts)


def board_of(services: Services, state: ElectionState) -> Board:
    if state.phase < ElectionPhase.CLOSED:
        live = caches(services).live.get(
            (state.id, state.created_block, state.config.manifest_hash),
            lambda: LiveCasts(state.created_block),
        )
        assert live is not None
        return live_board(live.read(services, state))
    eligibility = eligibility_of(services, state)
    key = (
        state.id,
        state.created_block,
        state.config.manifest_hash,
        state.config.eligibility_list_hash if eligibility is not None else b"",
    )
    board = caches(services).boards.get(key, lambda: counted_board(services, state, eligibility))
    assert board is not None
    return board
