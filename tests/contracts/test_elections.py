"""The Elections contract's rules, on the embedded node AND on anvil (the window-edge test, which
needs the node's exact one-second block clock, on the embedded node only).

A secret ballot from setup to tally (trustee posts in order, the key, ballots and re-votes, the
close, decryptions and the threshold on the result), public polls whose live counts follow
re-votes, eligibility proofs, the voting window's edges, relayed ballots and votes bound to the
voter's next sequence number (so no relayer can replay an older signature), and every custom
error with its exact arguments. Ballot and trustee blobs are opaque here (random bytes of the
right form): their cryptography is ``ledger.voting``'s and its suites'.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cityledger.testing.accounts import make_accounts
from ledger.contracts.base import city_artifact
from ledger.contracts.elections import (
    DOMAIN_NAME,
    DOMAIN_VERSION,
    ElectionConfig,
    ElectionKind,
    ElectionNotFoundError,
    ElectionPhase,
    Elections,
    ballot_hash,
    choices_mask,
    selected_options,
)
from ledger.exceptions import (
    AccessDeniedError,
    ElectionError,
    NotEligibleError,
    VotingClosedError,
)
from ledger.roles import Role
from ledger.voting.crypto.context import ballot_size
from ledger.voting.eligibility import MerkleTree
from tests.contracts.helpers import Town, events, only_event, outsider, reverts

ELECTION_SUITE_ACCOUNTS = 5 + 100 + 2
"""The test city's 5 + 2 staff around 100 people: officers, trustees and voters of every test."""

ZERO_WORD = bytes(32)
KEY = b"\x02" + bytes.fromhex("79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")
"""An election key as posted: 33 bytes, SEC1 compressed (here the generator)."""
BLOB = b"\x01\x02" + b"\xab" * 95
"""A trustee post: opaque to the contract, which only refuses an empty one."""


@pytest.fixture(scope="module")
def accounts() -> list[LocalAccount]:
    """Overrides tests/contracts/conftest.py for this module's nodes and cities."""
    return make_accounts(ELECTION_SUITE_ACCOUNTS)


@pytest.fixture(scope="module", params=["embedded", pytest.param("anvil", marks=pytest.mark.anvil)])
def town(request: pytest.FixtureRequest) -> Town:
    return Town(
        request.getfixturevalue("test_city" if request.param == "embedded" else "anvil_city")
    )


# -- the board: an election officer, and elections built for a test --------------------------------


def fake_ballot(option_count: int, low: int, high: int, *, version: int = 1) -> bytes:
    """A ballot of the exact form the contract checks (its proofs are random bytes)."""
    size = ballot_size(option_count, low, high)
    return bytes([version, option_count]) + os.urandom(size - 2)


@dataclass
class Election:
    id: int
    config: ElectionConfig
    tree: MerkleTree
    trustees: tuple[LocalAccount, ...] = ()

    def proof(self, voter: LocalAccount | str) -> list[bytes]:
        return self.tree.proof(voter if isinstance(voter, str) else voter.address)

    def ballot(self) -> bytes:
        c = self.config
        return fake_ballot(c.option_count, c.min_selections, c.max_selections)


@dataclass
class Board:
    town: Town
    officer: LocalAccount
    """Holds ELECTION_ADMIN."""

    @property
    def elections(self) -> Elections:
        return self.town.test_city.city.elections

    def people(self, count: int) -> list[LocalAccount]:
        return [self.town.person() for _ in range(count)]

    def config(
        self,
        voters: Sequence[LocalAccount | str],
        *,
        kind: ElectionKind = ElectionKind.PUBLIC_POLL,
        options: int = 3,
        low: int = 1,
        high: int = 1,
        threshold: int = 0,
        opens_in: int = 0,
        lasts: int = 60,
        quorum: int = 0,
        reward: int = 0,
    ) -> tuple[ElectionConfig, MerkleTree]:
        tree = MerkleTree(v if isinstance(v, str) else v.address for v in voters)
        now = self.town.latest_timestamp()
        config = ElectionConfig(
            kind=kind,
            option_count=options,
            min_selections=low,
            max_selections=high,
            threshold=threshold,
            opens_at=now + opens_in,
            closes_at=now + opens_in + lasts,
            quorum=quorum,
            eligible_count=len(tree),
            eligibility_root=tree.root,
            eligibility_list_hash=keccak(b"eligibility list"),
            manifest_hash=keccak(b"manifest"),
            reward_amount=reward,
        )
        return config, tree

    def poll(
        self, voters: Sequence[LocalAccount | str], *, open_now: bool = True, **options: Any
    ) -> Election:
        config, tree = self.config(voters, **options)
        election = Election(self.elections.create(self.officer, config), config, tree)
        if open_now:
            self.elections.open(self.officer, election.id)
        return election

    def secret(
        self,
        voters: Sequence[LocalAccount | str],
        *,
        trustees: int = 3,
        threshold: int = 2,
        open_now: bool = True,
        **options: Any,
    ) -> Election:
        """A secret ballot whose key ceremony is done (and which is open, by default)."""
        people = tuple(self.people(trustees))
        config, tree = self.config(
            voters, kind=ElectionKind.SECRET_BALLOT, threshold=threshold, **options
        )
        addresses = [t.address for t in people]
        election = Election(self.elections.create(self.officer, config, addresses), config, tree)
        election.trustees = people
        for trustee in people:
            self.elections.post_commitments(trustee, election.id, BLOB)
        for trustee in people:
            self.elections.post_shares(trustee, election.id, BLOB)
        self.elections.set_election_key(self.officer, election.id, KEY)
        if open_now:
            self.elections.open(self.officer, election.id)
        return election

    def close(self, election: Election, closer: LocalAccount | None = None) -> None:
        self.town.advance_to(election.config.closes_at)
        self.elections.close(closer or self.town.deployer, election.id)


@pytest.fixture(scope="module")
def board(town: Town) -> Board:
    officer = town.person()
    town.authority.grant_role(town.admin, Role.ELECTION_ADMIN, officer.address)
    return Board(town, officer)


def phase(board: Board, election: Election) -> ElectionPhase:
    return board.elections.election(election.id).phase


# -- a secret ballot, start to end -----------------------------------------------------------------


def test_a_secret_ballot_runs_from_setup_to_tally(board: Board) -> None:
    elections, town = board.elections, board.town
    voters = board.people(4)
    trustees = board.people(3)
    config, tree = board.config(voters, kind=ElectionKind.SECRET_BALLOT, threshold=2, quorum=3)
    count_before = elections.election_count()
    election_id = elections.create(board.officer, config, [t.address for t in trustees])
    assert election_id == count_before + 1
    assert elections.election_count() == election_id

    state = elections.election(election_id)
    assert state.config == config
    assert (state.phase, state.public_key, state.voter_count) == (ElectionPhase.SETUP, None, 0)
    assert state.trustees == tuple(t.address for t in trustees)
    for index, trustee in enumerate(trustees, start=1):
        assert elections.trustee_index_of(election_id, trustee.address) == index
        assert state.trustee_index(trustee.address) == index
    assert elections.trustee_index_of(election_id, voters[0].address) is None
    assert elections.ballot_length_of(election_id) == ballot_size(3, 1, 1) == 2 + 194 * 3 + 64

    # The key ceremony: every commitment, then every share, then the key.
    for trustee in trustees:
        receipt = elections.post_commitments(trustee, election_id, BLOB + trustee.address.encode())
        posted = only_event(receipt, elections, "TrusteeCommitted")
        assert posted["trustee"] == trustee.address
    assert elections.posts_of(election_id, trustees[0].address) == (True, False, False)
    for trustee in trustees:
        elections.post_shares(trustee, election_id, BLOB)
    receipt = elections.set_election_key(board.officer, election_id, KEY)
    assert only_event(receipt, elections, "ElectionKeySet") == {
        "electionId": election_id,
        "publicKey": KEY,
    }
    receipt = elections.open(board.officer, election_id)
    assert only_event(receipt, elections, "ElectionOpened") == {"electionId": election_id}
    state = elections.election(election_id)
    assert (state.phase, state.public_key) == (ElectionPhase.OPEN, KEY)
    assert (state.commitment_count, state.share_count, state.decryption_count) == (3, 3, 0)

    # Ballots: three voters, one of them twice; the event is the bulletin board.
    first, second, third, absent = voters
    cast: list[bytes] = []
    for voter in (first, second, third, first):
        ballot = fake_ballot(3, 1, 1)
        receipt = elections.cast_ballot(voter, election_id, ballot, tree.proof(voter.address))
        event = only_event(receipt, elections, "BallotCast")
        assert event["ballotHash"] == ballot_hash(ballot) == keccak(ballot)
        assert (event["voter"], event["ballot"]) == (voter.address, ballot)
        cast.append(ballot)
    assert elections.sequence_of(election_id, first.address) == 2
    assert elections.sequence_of(election_id, second.address) == 1
    assert elections.sequence_of(election_id, absent.address) == 0
    assert elections.last_ballot_hash_of(election_id, first.address) == ballot_hash(cast[3])
    assert elections.last_ballot_hash_of(election_id, absent.address) is None
    assert elections.election(election_id).voter_count == 3

    board_ballots = elections.ballots(election_id)
    assert [(b.voter, b.sequence, b.ballot) for b in board_ballots] == [
        (first.address, 1, cast[0]),
        (second.address, 1, cast[1]),
        (third.address, 1, cast[2]),
        (first.address, 2, cast[3]),
    ]
    for b in board_ballots:
        block = town.chain.w3.eth.get_block(b.block_number)
        assert b.block_timestamp == block["timestamp"]
        assert b.ballot_hash == ballot_hash(b.ballot)
        assert config.opens_at <= b.block_timestamp < config.closes_at
    assert [b.sequence for b in elections.ballots(election_id, voter=first.address)] == [1, 2]

    # Close, decrypt (two of three trustees), publish.
    reverts(
        lambda: elections.close(absent, election_id),
        "ElectionsNotYetClosable",
        electionId=election_id,
        closesAt=config.closes_at,
    )
    town.advance_to(config.closes_at)
    receipt = elections.close(absent, election_id)  # anyone may close
    assert only_event(receipt, elections, "ElectionClosed") == {
        "electionId": election_id,
        "voterCount": 3,
    }
    for trustee in trustees[:2]:
        receipt = elections.post_decryption(trustee, election_id, BLOB)
        event = only_event(receipt, elections, "DecryptionPosted")
        assert event["index"] == trustees.index(trustee) + 1
    tally = keccak(b"the sums")
    receipt = elections.publish_result(board.officer, election_id, [2, 1, 0], 3, tally)
    assert only_event(receipt, elections, "ResultPublished") == {
        "electionId": election_id,
        "counts": [2, 1, 0],
        "turnout": 3,
        "quorumMet": True,
        "tallyHash": tally,
    }
    result = elections.result(election_id)
    assert result is not None
    assert (result.counts, result.turnout, result.quorum_met, result.tally_hash) == (
        (2, 1, 0),
        3,
        True,
        tally,
    )
    assert result.published_at == town.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert phase(board, Election(election_id, config, tree)) is ElectionPhase.TALLIED

    # The trustees' posts, read back in order.
    assert [(p.index, p.trustee) for p in elections.commitments(election_id)] == [
        (i, t.address) for i, t in enumerate(trustees, start=1)
    ]
    assert elections.commitments(election_id)[1].data == BLOB + trustees[1].address.encode()
    assert [p.index for p in elections.shares(election_id)] == [1, 2, 3]
    assert [p.index for p in elections.decryptions(election_id)] == [1, 2]


def test_reading_an_unknown_election(board: Board) -> None:
    unknown = board.elections.election_count() + 1
    with pytest.raises(ElectionNotFoundError):
        board.elections.election(unknown)
    assert board.elections.ballots(unknown) == []
    assert board.elections.result(unknown) is None
    assert board.elections.live_counts(unknown) == ()
    reverts(
        lambda: board.elections.open(board.officer, unknown),
        "ElectionsUnknownElection",
        electionId=unknown,
    )


# -- creating --------------------------------------------------------------------------------------


def _bad_configs(board: Board) -> list[tuple[str, dict[str, Any], int, str, dict[str, Any]]]:
    """(label, config changes, trustee count, error, arguments)."""
    now = board.town.latest_timestamp()
    return [
        ("one option", {"option_count": 1}, 0, "ElectionsInvalidOptionCount", {"optionCount": 1}),
        ("33 options", {"option_count": 33}, 0, "ElectionsInvalidOptionCount", {"optionCount": 33}),
        (
            "min above max",
            {"min_selections": 2, "max_selections": 1},
            0,
            "ElectionsInvalidSelectionBounds",
            {"minSelections": 2, "maxSelections": 1, "optionCount": 3},
        ),
        (
            "max above options",
            {"max_selections": 4},
            0,
            "ElectionsInvalidSelectionBounds",
            {"minSelections": 1, "maxSelections": 4, "optionCount": 3},
        ),
        (
            "selecting nothing",
            {"min_selections": 0, "max_selections": 0},
            0,
            "ElectionsInvalidSelectionBounds",
            {"minSelections": 0, "maxSelections": 0, "optionCount": 3},
        ),
        (
            "a poll with a threshold",
            {"threshold": 1},
            0,
            "ElectionsInvalidThreshold",
            {"threshold": 1, "trusteeCount": 0},
        ),
        (
            "a poll with trustees",
            {},
            2,
            "ElectionsInvalidThreshold",
            {"threshold": 0, "trusteeCount": 2},
        ),
        (
            "a secret ballot without threshold",
            {"kind": ElectionKind.SECRET_BALLOT},
            2,
            "ElectionsInvalidThreshold",
            {"threshold": 0, "trusteeCount": 2},
        ),
        (
            "a threshold above the trustees",
            {"kind": ElectionKind.SECRET_BALLOT, "threshold": 3},
            2,
            "ElectionsInvalidThreshold",
            {"threshold": 3, "trusteeCount": 2},
        ),
        (
            "a secret ballot without trustees",
            {"kind": ElectionKind.SECRET_BALLOT, "threshold": 1},
            0,
            "ElectionsInvalidThreshold",
            {"threshold": 1, "trusteeCount": 0},
        ),
        (
            "closing when it opens",
            {"opens_at": now + 50, "closes_at": now + 50},
            0,
            "ElectionsInvalidWindow",
            {"opensAt": now + 50, "closesAt": now + 50},
        ),
        (
            "closed already",
            {"opens_at": now - 100, "closes_at": now - 1},
            0,
            "ElectionsInvalidWindow",
            {"opensAt": now - 100, "closesAt": now - 1},
        ),
        (
            "no root",
            {"eligibility_root": ZERO_WORD},
            0,
            "ElectionsInvalidEligibility",
            {"eligibilityRoot": "0x" + "00" * 32, "eligibleCount": 2},
        ),
        (
            "nobody eligible",
            {"eligible_count": 0, "quorum": 0},
            0,
            "ElectionsInvalidEligibility",
            {"eligibilityRoot": None, "eligibleCount": 0},
        ),
        (
            "an unreachable quorum",
            {"quorum": 3},
            0,
            "ElectionsInvalidQuorum",
            {"quorum": 3, "eligibleCount": 2},
        ),
    ]


def test_create_validates_every_field(board: Board) -> None:
    voters = [outsider().address, outsider().address]
    base, tree = board.config(voters)
    trustees = [outsider().address for _ in range(3)]
    before = board.elections.election_count()
    for label, changes, trustee_count, error, arguments in _bad_configs(board):
        config = replace(base, **changes)
        args = dict(arguments)
        if args.get("eligibilityRoot", "") is None:
            args["eligibilityRoot"] = "0x" + tree.root.hex()
        with pytest.raises(ElectionError) as caught:
            board.elections.create(board.officer, config, trustees[:trustee_count])
        assert (caught.value.error, caught.value.error_args) == (error, args), label
    assert board.elections.election_count() == before


def test_trustees_must_be_distinct_and_not_zero(board: Board) -> None:
    base, _ = board.config([outsider().address])
    config = replace(base, kind=ElectionKind.SECRET_BALLOT, threshold=1)
    a, b = outsider().address, outsider().address
    reverts(
        lambda: board.elections.create(board.officer, config, [a, b, a]),
        "ElectionsDuplicateTrustee",
        trustee=a,
    )
    reverts(
        lambda: board.elections.create(board.officer, config, [a, "0x" + "00" * 20]),
        "ElectionsZeroTrustee",
    )
    # 255 trustees at most (uint8 indexes); the limit itself is accepted.
    many = [outsider().address for _ in range(256)]
    reverts(
        lambda: board.elections.create(board.officer, config, many),
        "ElectionsInvalidThreshold",
        threshold=1,
        trusteeCount=256,
    )
    election_id = board.elections.create(board.officer, config, many[:255])
    state = board.elections.election(election_id)
    assert len(state.trustees) == 255
    assert board.elections.trustee_index_of(election_id, many[254]) == 255


def test_creation_registers_the_trustees_in_order(board: Board) -> None:
    trustees = [outsider().address for _ in range(3)]
    config, _ = board.config([outsider().address], kind=ElectionKind.SECRET_BALLOT, threshold=2)
    fn = board.elections.contract.functions.create(config.as_tuple(), trustees)
    receipt = board.town.chain.transact(board.officer, fn)
    created = only_event(receipt, board.elections, "ElectionCreated")
    assert ElectionConfig.from_tuple(created["config"]) == config
    registered = events(receipt, board.elections, "TrusteeRegistered")
    assert [(e["index"], e["trustee"]) for e in registered] == [
        (1, trustees[0]),
        (2, trustees[1]),
        (3, trustees[2]),
    ]
    assert {e["electionId"] for e in registered} == {created["electionId"]}


# -- the key ceremony ------------------------------------------------------------------------------


def test_trustees_post_for_themselves_once_in_order(board: Board) -> None:
    elections = board.elections
    trustees = board.people(2)
    config, tree = board.config([outsider().address], kind=ElectionKind.SECRET_BALLOT, threshold=2)
    election = Election(
        elections.create(board.officer, config, [t.address for t in trustees]), config, tree
    )
    first, second = trustees
    stranger = board.town.person()
    eid = election.id
    reverts(
        lambda: elections.post_commitments(stranger, eid, BLOB),
        "ElectionsNotTrustee",
        electionId=eid,
        account=stranger.address,
    )
    reverts(lambda: elections.post_commitments(first, eid, b""), "ElectionsEmptyData")
    elections.post_commitments(first, eid, BLOB)
    reverts(
        lambda: elections.post_commitments(first, eid, BLOB),
        "ElectionsAlreadyPosted",
        electionId=eid,
        trustee=first.address,
    )
    reverts(
        lambda: elections.post_shares(first, eid, BLOB),
        "ElectionsCommitmentsIncomplete",
        electionId=eid,
        posted=1,
        required=2,
    )
    reverts(
        lambda: elections.set_election_key(board.officer, eid, KEY),
        "ElectionsSharesIncomplete",
        electionId=eid,
        posted=0,
        required=2,
    )
    elections.post_commitments(second, eid, BLOB)
    reverts(
        lambda: elections.post_shares(stranger, eid, BLOB),
        "ElectionsNotTrustee",
        electionId=eid,
        account=stranger.address,
    )
    reverts(lambda: elections.post_shares(second, eid, b""), "ElectionsEmptyData")
    elections.post_shares(second, eid, BLOB)
    reverts(
        lambda: elections.post_shares(second, eid, BLOB),
        "ElectionsAlreadyPosted",
        electionId=eid,
        trustee=second.address,
    )
    reverts(
        lambda: elections.set_election_key(board.officer, eid, KEY),
        "ElectionsSharesIncomplete",
        electionId=eid,
        posted=1,
        required=2,
    )
    reverts(
        lambda: elections.open(board.officer, eid),
        "ElectionsNoElectionKey",
        electionId=eid,
    )
    reverts(
        lambda: elections.post_decryption(first, eid, BLOB),
        "ElectionsWrongPhase",
        electionId=eid,
        current="setup",
        required="closed",
    )
    elections.post_shares(first, eid, BLOB)
    state = elections.election(eid)
    assert (state.commitment_count, state.share_count) == (2, 2)
    assert elections.posts_of(eid, first.address) == (True, True, False)


def test_the_election_key_is_a_compressed_point_set_once(board: Board) -> None:
    elections = board.elections
    election = board.secret([outsider().address], trustees=1, threshold=1, open_now=False)
    eid = election.id
    for bad in (b"", KEY[:32], KEY + b"\x00", b"\x04" + KEY[1:], b"\x00" * 33):
        reverts(
            lambda bad=bad: elections.set_election_key(board.officer, eid, bad),
            "ElectionsKeyAlreadySet",
            electionId=eid,
        )
    # board.secret set the key already; a fresh ceremony shows the format checks.
    trustee = board.town.person()
    config, _ = board.config([outsider().address], kind=ElectionKind.SECRET_BALLOT, threshold=1)
    fresh = elections.create(board.officer, config, [trustee.address])
    elections.post_commitments(trustee, fresh, BLOB)
    elections.post_shares(trustee, fresh, BLOB)
    for bad in (b"", KEY[:32], KEY + b"\x00", b"\x04" + KEY[1:], b"\x00" * 33):
        reverts(
            lambda bad=bad: elections.set_election_key(board.officer, fresh, bad),
            "ElectionsInvalidElectionKey",
            publicKey="0x" + bad.hex(),
        )
    elections.set_election_key(board.officer, fresh, b"\x03" + KEY[1:])
    assert elections.election(fresh).public_key == b"\x03" + KEY[1:]
    poll = board.poll([outsider().address], open_now=False)
    reverts(
        lambda: elections.set_election_key(board.officer, poll.id, KEY),
        "ElectionsWrongKind",
        electionId=poll.id,
        kind="public poll",
    )
    elections.open(board.officer, fresh)
    reverts(
        lambda: elections.set_election_key(board.officer, fresh, KEY),
        "ElectionsWrongPhase",
        electionId=fresh,
        current="open",
        required="setup",
    )
    reverts(
        lambda: elections.open(board.officer, fresh),
        "ElectionsWrongPhase",
        electionId=fresh,
        current="open",
        required="setup",
    )


def test_an_election_cannot_open_after_its_close(board: Board) -> None:
    election = board.poll([outsider().address], open_now=False, lasts=3)
    board.town.advance_to(election.config.closes_at)
    with pytest.raises(VotingClosedError):
        board.elections.open(board.officer, election.id)
    reverts(
        lambda: board.elections.open(board.officer, election.id),
        "ElectionsVotingClosed",
        electionId=election.id,
        closesAt=election.config.closes_at,
    )


# -- casting ---------------------------------------------------------------------------------------


def test_ballots_must_have_the_exact_form(board: Board) -> None:
    voter = board.town.person()
    election = board.secret([voter], options=4, low=0, high=2)
    size = ballot_size(4, 0, 2)
    assert size == 2 + 194 * 4 + 64 * 3
    eid, proof = election.id, election.proof(voter)
    for length in (0, 1, size - 1, size + 1):
        body = (bytes([1, 4]) + os.urandom(max(0, length - 2)))[:length]
        reverts(
            lambda body=body: board.elections.cast_ballot(voter, eid, body, proof),
            "ElectionsInvalidBallotLength",
            length=length,
            expected=size,
        )
    reverts(
        lambda: board.elections.cast_ballot(voter, eid, fake_ballot(4, 0, 2, version=2), proof),
        "ElectionsInvalidBallotHeader",
        version=2,
        optionCount=4,
    )
    wrong_n = bytes([1, 3]) + os.urandom(size - 2)
    reverts(
        lambda: board.elections.cast_ballot(voter, eid, wrong_n, proof),
        "ElectionsInvalidBallotHeader",
        version=1,
        optionCount=3,
    )
    board.elections.cast_ballot(voter, eid, fake_ballot(4, 0, 2), proof)
    assert board.elections.sequence_of(eid, voter.address) == 1


def test_the_largest_ballot_fits_in_one_transaction(board: Board) -> None:
    voter = board.town.person()
    election = board.secret([voter], trustees=1, threshold=1, options=32, low=0, high=32)
    ballot = fake_ballot(32, 0, 32)
    assert len(ballot) == 2 + 194 * 32 + 64 * 33
    receipt = board.elections.cast_ballot(voter, election.id, ballot, election.proof(voter))
    assert only_event(receipt, board.elections, "BallotCast")["ballot"] == ballot
    assert receipt["gasUsed"] < 1_000_000


def test_only_eligible_voters_cast(board: Board) -> None:
    members = board.people(3)
    stranger = board.town.person()
    election = board.poll(members)
    eid = election.id
    with pytest.raises(NotEligibleError):
        board.elections.cast_vote(stranger, eid, 1, election.proof(members[0]))
    reverts(
        lambda: board.elections.cast_vote(stranger, eid, 1, []),
        "ElectionsNotEligible",
        electionId=eid,
        voter=stranger.address,
    )
    # A member needs its own proof: another member's does not prove it.
    reverts(
        lambda: board.elections.cast_vote(members[0], eid, 1, election.proof(members[1])),
        "ElectionsNotEligible",
        electionId=eid,
        voter=members[0].address,
    )
    for member in members:
        board.elections.cast_vote(member, eid, 1, election.proof(member))
    # A list of one: the root is the leaf and the proof is empty.
    solo = board.town.person()
    alone = board.poll([solo])
    assert alone.proof(solo) == []
    board.elections.cast_vote(solo, alone.id, 1, [])
    secret = board.secret([solo], trustees=1, threshold=1)
    reverts(
        lambda: board.elections.cast_ballot(members[0], secret.id, secret.ballot(), []),
        "ElectionsNotEligible",
        electionId=secret.id,
        voter=members[0].address,
    )


def test_casting_needs_the_right_kind_and_an_open_election(board: Board) -> None:
    voter = board.town.person()
    poll = board.poll([voter], open_now=False)
    secret = board.secret([voter], trustees=1, threshold=1, open_now=False)
    proof = poll.proof(voter)
    reverts(
        lambda: board.elections.cast_vote(voter, poll.id, 1, proof),
        "ElectionsWrongPhase",
        electionId=poll.id,
        current="setup",
        required="open",
    )
    reverts(
        lambda: board.elections.cast_ballot(voter, poll.id, secret.ballot(), proof),
        "ElectionsWrongKind",
        electionId=poll.id,
        kind="public poll",
    )
    reverts(
        lambda: board.elections.cast_vote(voter, secret.id, 1, proof),
        "ElectionsWrongKind",
        electionId=secret.id,
        kind="secret ballot",
    )
    reverts(
        lambda: board.elections.cast_ballot(voter, secret.id, secret.ballot(), proof),
        "ElectionsWrongPhase",
        electionId=secret.id,
        current="setup",
        required="open",
    )
    board.elections.open(board.officer, poll.id)
    board.close(poll)
    reverts(
        lambda: board.elections.cast_vote(voter, poll.id, 1, proof),
        "ElectionsWrongPhase",
        electionId=poll.id,
        current="closed",
        required="open",
    )
    reverts(
        lambda: board.elections.close(voter, poll.id),
        "ElectionsWrongPhase",
        electionId=poll.id,
        current="closed",
        required="open",
    )


def test_the_voting_window_edges(board: Board) -> None:
    """Accepted in blocks stamped opensAt through closesAt - 1, refused at closesAt.

    The edge casts are mined without a dry run (``send_unchecked``), so that the block they
    land in, not a simulation of it, decides."""
    town = board.town
    if town.is_anvil:
        pytest.skip("exact block stamps: anvil stamps with the wall clock")
    # Run the chain's clock ahead of the wall clock, so every block is its parent + 1 s.
    town.advance_to(int(time.time()) + 40)
    voter = board.town.person()
    election = board.poll([voter], opens_in=6, lasts=6)
    opens, closes = election.config.opens_at, election.config.closes_at
    proof = election.proof(voter)

    def cast(choices: int) -> Any:
        function = board.elections.contract.functions.castVote(election.id, choices, proof)
        return town.send_unchecked(voter, function)

    def stamp(receipt: Any) -> int:
        return int(town.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"])

    assert town.latest_timestamp() < opens - 1
    with pytest.raises(VotingClosedError):
        board.elections.cast_vote(voter, election.id, 1, proof)
    reverts(
        lambda: board.elections.cast_vote(voter, election.id, 1, proof),
        "ElectionsNotYetOpen",
        electionId=election.id,
        opensAt=opens,
    )
    town.advance_to(opens - 2)
    reverts(lambda: cast(1), "ElectionsNotYetOpen", electionId=election.id, opensAt=opens)
    assert town.latest_timestamp() == opens - 1  # the refused cast was mined at opensAt - 1
    assert stamp(cast(1)) == opens
    town.advance_to(closes - 2)
    assert stamp(cast(2)) == closes - 1
    # Mined at closesAt, and failed there: the replay on its own block says why.
    reverts(lambda: cast(4), "ElectionsVotingClosed", electionId=election.id, closesAt=closes)
    assert town.latest_timestamp() == closes
    reverts(
        lambda: board.elections.cast_vote(voter, election.id, 4, proof),
        "ElectionsVotingClosed",
        electionId=election.id,
        closesAt=closes,
    )
    assert board.elections.sequence_of(election.id, voter.address) == 2
    assert board.elections.choices_of(election.id, voter.address) == 2
    board.elections.close(voter, election.id)
    assert [v.block_timestamp for v in board.elections.votes(election.id)] == [opens, closes - 1]


# -- relayed ballots and votes ---------------------------------------------------------------------


def test_relayed_ballots_are_bound_to_the_voters_next_sequence(board: Board) -> None:
    elections, town = board.elections, board.town
    voter, relayer, other = board.people(3)
    election = board.secret([voter, other], trustees=1, threshold=1)
    eid, proof = election.id, election.proof(voter)
    deadline = town.latest_timestamp() + 3_600

    first = election.ballot()
    signed_first = elections.sign_ballot(voter, eid, first, deadline)
    receipt = elections.cast_ballot_for(
        relayer, voter.address, eid, first, proof, deadline, signed_first
    )
    event = only_event(receipt, elections, "BallotCast")
    assert (event["voter"], event["sequence"]) == (voter.address, 1)
    assert elections.sequence_of(eid, relayer.address) == 0

    second = election.ballot()
    signed_second = elections.sign_ballot(voter, eid, second, deadline)
    elections.cast_ballot_for(relayer, voter.address, eid, second, proof, deadline, signed_second)
    assert elections.last_ballot_hash_of(eid, voter.address) == ballot_hash(second)

    # The first signature was for sequence 1: replaying it over the newer ballot fails.
    reverts(
        lambda: elections.cast_ballot_for(
            relayer, voter.address, eid, first, proof, deadline, signed_first
        ),
        "ElectionsInvalidSignature",
        voter=voter.address,
    )
    # A signature for a sequence other than the next one, for another ballot, by another
    # key, or altered: all the same refusal.
    third = election.ballot()
    for sequence in (2, 4):
        stale = elections.sign_ballot(voter, eid, third, deadline, sequence=sequence)
        reverts(
            lambda stale=stale: elections.cast_ballot_for(
                relayer, voter.address, eid, third, proof, deadline, stale
            ),
            "ElectionsInvalidSignature",
            voter=voter.address,
        )
    by_other = elections.sign_ballot(other, eid, third, deadline)
    good = elections.sign_ballot(voter, eid, third, deadline)
    for signature, ballot, when in (
        (by_other, third, deadline),
        (good, election.ballot(), deadline),
        (good, third, deadline + 1),
        (good[:64] + bytes([good[64] ^ 1]), third, deadline),
    ):
        reverts(
            lambda s=signature, b=ballot, w=when: elections.cast_ballot_for(
                relayer, voter.address, eid, b, proof, w, s
            ),
            "ElectionsInvalidSignature",
            voter=voter.address,
        )
    # Direct casting shares the counter: the signature for sequence 3 dies with it.
    elections.cast_ballot(voter, eid, election.ballot(), proof)
    reverts(
        lambda: elections.cast_ballot_for(
            relayer, voter.address, eid, third, proof, deadline, good
        ),
        "ElectionsInvalidSignature",
        voter=voter.address,
    )
    assert elections.sequence_of(eid, voter.address) == 3
    # Expired: refused for that reason first.
    past = town.latest_timestamp() - 1
    expired = elections.sign_ballot(voter, eid, third, past)
    reverts(
        lambda: elections.cast_ballot_for(relayer, voter.address, eid, third, proof, past, expired),
        "ElectionsAuthorizationExpired",
        deadline=past,
    )
    # The signature binds the voter, not the proof: a relayer with a wrong proof is refused.
    fresh = elections.sign_ballot(voter, eid, third, deadline)
    reverts(
        lambda: elections.cast_ballot_for(
            relayer, voter.address, eid, third, election.proof(other), deadline, fresh
        ),
        "ElectionsNotEligible",
        electionId=eid,
        voter=voter.address,
    )
    assert [b.sequence for b in elections.ballots(eid, voter=voter.address)] == [1, 2, 3]


def test_relayed_votes_are_bound_to_the_voters_next_sequence(board: Board) -> None:
    elections, town = board.elections, board.town
    voter, relayer = board.people(2)
    election = board.poll([voter], options=4, low=1, high=2)
    eid, proof = election.id, election.proof(voter)
    deadline = town.latest_timestamp() + 3_600
    first = elections.sign_vote(voter, eid, 0b0011, deadline)
    receipt = elections.cast_vote_for(relayer, voter.address, eid, 0b0011, proof, deadline, first)
    assert only_event(receipt, elections, "VoteCast") == {
        "electionId": eid,
        "voter": voter.address,
        "sequence": 1,
        "choices": 0b0011,
    }
    second = elections.sign_vote(voter, eid, 0b1000, deadline)
    elections.cast_vote_for(relayer, voter.address, eid, 0b1000, proof, deadline, second)
    assert elections.live_counts(eid) == (0, 0, 0, 1)
    reverts(
        lambda: elections.cast_vote_for(
            relayer, voter.address, eid, 0b0011, proof, deadline, first
        ),
        "ElectionsInvalidSignature",
        voter=voter.address,
    )
    assert elections.live_counts(eid) == (0, 0, 0, 1)
    third = elections.sign_vote(voter, eid, 0b0100, deadline)
    reverts(
        lambda: elections.cast_vote_for(
            relayer, voter.address, eid, 0b0110, proof, deadline, third
        ),
        "ElectionsInvalidSignature",
        voter=voter.address,
    )
    past = town.latest_timestamp() - 1
    expired = elections.sign_vote(voter, eid, 0b0100, past)
    reverts(
        lambda: elections.cast_vote_for(relayer, voter.address, eid, 0b0100, proof, past, expired),
        "ElectionsAuthorizationExpired",
        deadline=past,
    )
    elections.cast_vote_for(relayer, voter.address, eid, 0b0100, proof, deadline, third)
    assert elections.sequence_of(eid, voter.address) == 3
    assert elections.choices_of(eid, voter.address) == 0b0100
    assert elections.live_counts(eid) == (0, 0, 1, 0)
    assert [v.sequence for v in elections.votes(eid)] == [1, 2, 3]


def test_the_signing_domain_is_the_specs(board: Board) -> None:
    name, version, chain_id, contract = board.elections._read("eip712Domain")[1:5]
    assert (name, version) == (DOMAIN_NAME, DOMAIN_VERSION) == ("CityLedger Elections", "1")
    assert (chain_id, contract) == (board.town.chain.chain_id, board.elections.address)


# -- public polls ----------------------------------------------------------------------------------


def test_poll_choices_must_name_options_within_the_bounds(board: Board) -> None:
    voter = board.town.person()
    election = board.poll([voter], options=4, low=0, high=2)
    eid, proof = election.id, election.proof(voter)
    for choices in (1 << 4, 1 << 255, 0b10001):
        reverts(
            lambda c=choices: board.elections.cast_vote(voter, eid, c, proof),
            "ElectionsInvalidChoices",
            choices=choices,
        )
    reverts(
        lambda: board.elections.cast_vote(voter, eid, 0b0111, proof),
        "ElectionsInvalidSelectionCount",
        count=3,
        minSelections=0,
        maxSelections=2,
    )
    board.elections.cast_vote(voter, eid, 0, proof)  # an empty vote counts as turnout
    assert board.elections.live_counts(eid) == (0, 0, 0, 0)
    assert board.elections.election(eid).voter_count == 1
    strict = board.poll([voter], options=3, low=2, high=2)
    reverts(
        lambda: board.elections.cast_vote(voter, strict.id, 0b001, strict.proof(voter)),
        "ElectionsInvalidSelectionCount",
        count=1,
        minSelections=2,
        maxSelections=2,
    )
    assert choices_mask([0, 2]) == 0b101
    assert selected_options(0b101) == (0, 2)


@pytest.fixture(scope="module")
def poll_voters(board: Board) -> list[LocalAccount]:
    return board.people(4)


@settings(
    max_examples=8,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    votes=st.lists(
        st.tuples(st.integers(0, 3), st.sets(st.integers(0, 3), min_size=1, max_size=2)),
        min_size=1,
        max_size=8,
    )
)
def test_poll_counts_follow_every_re_vote(
    board: Board, poll_voters: list[LocalAccount], votes: list[tuple[int, set[int]]]
) -> None:
    """After every vote the live counts are the sum of each voter's LAST selection, and the
    result can only be published as exactly those counts and that turnout."""
    election = board.poll(poll_voters, options=4, low=1, high=2, quorum=2, lasts=16)
    last: dict[str, int] = {}
    for who, options in votes:
        voter = poll_voters[who]
        mask = choices_mask(options)
        board.elections.cast_vote(voter, election.id, mask, election.proof(voter))
        last[voter.address] = mask
        expected = tuple(sum(m >> o & 1 for m in last.values()) for o in range(4))
        assert board.elections.live_counts(election.id) == expected
    assert board.elections.election(election.id).voter_count == len(last)
    cast = board.elections.votes(election.id)
    assert [(v.voter, set(v.options)) for v in cast] == [
        (poll_voters[w].address, o) for w, o in votes
    ]
    board.close(election)
    counts = board.elections.live_counts(election.id)
    if any(counts):
        wrong = list(counts)
        option = next(o for o, c in enumerate(wrong) if c)
        wrong[option] -= 1
        reverts(
            lambda: board.elections.publish_result(board.officer, election.id, wrong, len(last)),
            "ElectionsCountMismatch",
            option=option,
            posted=counts[option] - 1,
            live=counts[option],
        )
    reverts(
        lambda: board.elections.publish_result(
            board.officer, election.id, list(counts), len(last) + 1
        ),
        "ElectionsTurnoutMismatch",
        turnout=len(last) + 1,
        voterCount=len(last),
    )
    board.elections.publish_result(board.officer, election.id, list(counts), len(last))
    result = board.elections.result(election.id)
    assert result is not None
    assert (result.counts, result.turnout, result.quorum_met) == (counts, len(last), len(last) >= 2)


def test_publishing_needs_a_closed_election_and_one_count_per_option(board: Board) -> None:
    voter = board.town.person()
    election = board.poll([voter])
    reverts(
        lambda: board.elections.publish_result(board.officer, election.id, [0, 0, 0], 0),
        "ElectionsWrongPhase",
        electionId=election.id,
        current="open",
        required="closed",
    )
    board.close(election)
    for counts in ([0, 0], [0, 0, 0, 0]):
        reverts(
            lambda counts=counts: board.elections.publish_result(
                board.officer, election.id, counts, 0
            ),
            "ElectionsInvalidCountsLength",
            length=len(counts),
            optionCount=3,
        )
    board.elections.publish_result(board.officer, election.id, [0, 0, 0], 0)
    reverts(
        lambda: board.elections.publish_result(board.officer, election.id, [0, 0, 0], 0),
        "ElectionsWrongPhase",
        electionId=election.id,
        current="tallied",
        required="closed",
    )


# -- the secret ballot's result --------------------------------------------------------------------


def test_a_secret_result_needs_the_threshold_of_decryptions(board: Board) -> None:
    voters = board.people(2)
    election = board.secret(voters, trustees=3, threshold=2, quorum=2)
    for voter in voters:
        board.elections.cast_ballot(voter, election.id, election.ballot(), election.proof(voter))
    reverts(
        lambda: board.elections.post_decryption(election.trustees[0], election.id, BLOB),
        "ElectionsWrongPhase",
        electionId=election.id,
        current="open",
        required="closed",
    )
    board.close(election)
    eid, officer = election.id, board.officer
    stranger = board.town.person()
    reverts(
        lambda: board.elections.post_decryption(stranger, eid, BLOB),
        "ElectionsNotTrustee",
        electionId=eid,
        account=stranger.address,
    )
    reverts(
        lambda: board.elections.post_decryption(election.trustees[2], eid, b""),
        "ElectionsEmptyData",
    )
    reverts(
        lambda: board.elections.publish_result(officer, eid, [1, 1, 0], 2),
        "ElectionsDecryptionsIncomplete",
        electionId=eid,
        posted=0,
        required=2,
    )
    board.elections.post_decryption(election.trustees[2], eid, BLOB)
    reverts(
        lambda: board.elections.post_decryption(election.trustees[2], eid, BLOB),
        "ElectionsAlreadyPosted",
        electionId=eid,
        trustee=election.trustees[2].address,
    )
    reverts(
        lambda: board.elections.publish_result(officer, eid, [1, 1, 0], 2),
        "ElectionsDecryptionsIncomplete",
        electionId=eid,
        posted=1,
        required=2,
    )
    board.elections.post_decryption(election.trustees[0], eid, BLOB)
    reverts(
        lambda: board.elections.publish_result(officer, eid, [1, 1, 0], 3),
        "ElectionsTurnoutAboveVoters",
        turnout=3,
        voterCount=2,
    )
    reverts(
        lambda: board.elections.publish_result(officer, eid, [0, 2, 1], 1),
        "ElectionsCountAboveTurnout",
        option=1,
        count=2,
        turnout=1,
    )
    # A turnout below the voters (void ballots) is the tally's to justify; it may miss quorum.
    board.elections.publish_result(officer, eid, [1, 0, 0], 1, keccak(b"sums"))
    result = board.elections.result(eid)
    assert result is not None
    assert (result.counts, result.turnout, result.quorum_met) == ((1, 0, 0), 1, False)
    assert board.elections.election(eid).decryption_count == 2
    assert board.elections.posts_of(eid, election.trustees[2].address) == (True, True, True)
    assert board.elections.live_counts(eid) == (0, 0, 0)


def test_a_secret_ballot_nobody_voted_in_publishes_zeros_without_decryptions(
    board: Board,
) -> None:
    election = board.secret([outsider().address], trustees=2, threshold=2)
    board.close(election)
    assert board.elections.election(election.id).voter_count == 0
    reverts(
        lambda: board.elections.publish_result(board.officer, election.id, [0, 1, 0], 0),
        "ElectionsCountAboveTurnout",
        option=1,
        count=1,
        turnout=0,
    )
    board.elections.publish_result(board.officer, election.id, [0, 0, 0], 0)
    result = board.elections.result(election.id)
    assert result is not None
    assert (result.turnout, result.quorum_met) == (0, True)  # no quorum set: met


# -- roles -----------------------------------------------------------------------------------------


def test_the_officers_functions_need_election_admin(board: Board) -> None:
    elections = board.elections
    someone = board.town.person()
    config, _ = board.config([someone])
    with pytest.raises(AccessDeniedError):
        elections.create(someone, config)
    poll = board.poll([someone], open_now=False)
    for attempt in (
        lambda: elections.create(someone, config),
        lambda: elections.open(someone, poll.id),
        lambda: elections.set_election_key(someone, poll.id, KEY),
        lambda: elections.publish_result(someone, poll.id, [0, 0, 0], 0),
    ):
        reverts(attempt, "AccessManagedUnauthorized", caller=someone.address)
    # The city's admin holds ADMIN, not ELECTION_ADMIN: it is refused too.
    reverts(
        lambda: elections.open(board.town.admin, poll.id),
        "AccessManagedUnauthorized",
        caller=board.town.admin.address,
    )
    elections.open(board.officer, poll.id)


# -- the reader, at scale --------------------------------------------------------------------------


def test_the_ballot_reader_cuts_20000_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    """20,000 raw BallotCast logs as a node sends them (3-option ballots, 840 bytes each) are
    cut into BallotCast records, each with its own bytes, sequence, block and stamp (how fast:
    the audit's chain read in `python -m scripts.bench voting`)."""
    size = ballot_size(3, 1, 1)
    ballots = [os.urandom(size) for _ in range(20_000)]
    voter_topic = "0x" + "00" * 12 + "11" * 20
    topic0 = "0x" + "ab" * 32

    def log(i: int, ballot: bytes) -> dict[str, Any]:
        data = (
            (1 + i % 3).to_bytes(32, "big")
            + (0x40).to_bytes(32, "big")
            + len(ballot).to_bytes(32, "big")
            + ballot
            + bytes(-len(ballot) % 32)
        )
        return {
            "topics": [
                topic0,
                "0x" + (7).to_bytes(32, "big").hex(),
                voter_topic,
                "0x" + keccak(ballot).hex(),
            ],
            "data": "0x" + data.hex(),
            "blockNumber": hex(100 + i // 10),
            "blockTimestamp": hex(1_800_000_000 + i // 10),
            "transactionHash": "0x" + i.to_bytes(32, "big").hex(),
            "logIndex": hex(i % 10),
        }

    logs = [log(i, b) for i, b in enumerate(ballots)]
    reader = Elections.__new__(Elections)
    monkeypatch.setattr(reader, "_logs", lambda *_: logs, raising=False)
    found = reader.ballots(7, from_block=0)
    assert len(found) == 20_000
    assert [b.ballot for b in found[:3]] == ballots[:3]
    assert found[-1].ballot == ballots[-1]
    assert found[12_345].ballot_hash == keccak(ballots[12_345])
    assert (found[5].sequence, found[5].block_number, found[5].block_timestamp) == (
        3,
        100,
        1_800_000_000,
    )


def test_every_custom_error_is_exercised_here() -> None:
    source = Path(__file__).read_text()
    errors = [e["name"] for e in city_artifact("Elections").abi if e.get("type") == "error"]
    own = [e for e in errors if e.startswith("Elections")]
    assert len(own) >= 30
    missing = [e for e in own if f'"{e}"' not in source]
    assert not missing, f"Elections errors no test here raises: {missing}"
