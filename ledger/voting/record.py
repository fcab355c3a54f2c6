"""An election's public record: everything the chain holds about it, read once.

The audit, the tally service and the bulletin board work from this snapshot rather than from
live calls, so a check sees one consistent state, and a test can alter a copy of it (a
ciphertext, a timestamp, a posted share) to prove the audit notices.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from eth_utils import to_checksum_address

from ledger.contracts.elections import (
    BallotCast,
    ElectionConfig,
    Elections,
    ElectionState,
    PostedResult,
    TrusteePost,
    VoteCast,
    vote_evidence_id,
)
from ledger.contracts.rewards import RewardsPool
from ledger.voting.counting import Window
from ledger.voting.crypto import BallotSpec, ElectionContext, Point


def spec_of(config: ElectionConfig) -> BallotSpec:
    """The selection bounds an election's ballots prove."""
    return BallotSpec(config.option_count, config.min_selections, config.max_selections)


def window_of(config: ElectionConfig) -> Window:
    return Window(config.opens_at, config.closes_at)


@dataclass(frozen=True, slots=True)
class ElectionRecord:
    context: ElectionContext
    state: ElectionState
    commitments: Mapping[int, TrusteePost]
    shares: Mapping[int, TrusteePost]
    ballots: tuple[BallotCast, ...]
    votes: tuple[VoteCast, ...]
    decryptions: Mapping[int, TrusteePost]
    result: PostedResult | None
    rewarded: frozenset[str]
    """Residents granted this vote's participation reward so far."""

    @property
    def election_id(self) -> int:
        return self.context.election_id

    @property
    def casts(self) -> tuple[BallotCast | VoteCast, ...]:
        """Every ballot and public vote, in the order the chain recorded them."""
        return (*self.ballots, *self.votes)

    @property
    def spec(self) -> BallotSpec:
        return spec_of(self.state.config)

    @property
    def window(self) -> Window:
        return window_of(self.state.config)

    @property
    def public_key(self) -> Point | None:
        key = self.state.public_key
        return None if not key else Point.from_bytes(key)


def read_record(
    elections: Elections, election_id: int, rewards: RewardsPool | None = None
) -> ElectionRecord:
    """The record of ``election_id`` as the chain holds it now."""
    state = elections.election(election_id)
    context = ElectionContext(elections.chain.chain_id, elections.address, election_id)
    rewarded: frozenset[str] = frozenset()
    if rewards is not None and state.config.reward_amount > 0:
        programme = rewards.programme_id("voting")
        evidence = vote_evidence_id(elections.address, election_id)
        rewarded = frozenset(
            to_checksum_address(g.resident)
            for g in rewards.grants(programme)
            if g.evidence_id == evidence
        )
    return ElectionRecord(
        context=context,
        state=state,
        commitments={p.index: p for p in elections.commitments(election_id)},
        shares={p.index: p for p in elections.shares(election_id)},
        ballots=tuple(elections.ballots(election_id)),
        votes=tuple(elections.votes(election_id)),
        decryptions={p.index: p for p in elections.decryptions(election_id)},
        result=elections.result(election_id),
        rewarded=rewarded,
    )
