"""The counting rule, the manifest and the trustee vault: the voting domain's rules off chain."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cityledger.testing.accounts import make_accounts
from ledger.voting.counting import (
    BallotStatus,
    Verdict,
    Window,
    ballot_verdict,
    count_ballots,
    count_votes,
)
from ledger.voting.crypto import (
    BallotSpec,
    ElectionContext,
    base_mul,
    encrypt_ballot,
    random_scalar,
    start_ceremony,
)
from ledger.voting.errors import ManifestError, TrusteeVaultError
from ledger.voting.manifest import ElectionManifest, fund_projects
from ledger.voting.methods import VoteMethod
from ledger.voting.vault import TrusteeState, TrusteeVault

CONTEXT = ElectionContext(44051, "0x" + "11" * 20, 7)
SPEC = BallotSpec(3, 1, 1)
SECRET = random_scalar()
KEY = base_mul(SECRET)
WINDOW = Window(1_000, 2_000)
VOTERS = [a.address for a in make_accounts(4, "rules")]


@dataclass(frozen=True)
class Cast:
    voter: str
    sequence: int
    block_timestamp: int
    ballot: bytes = b""
    choices: int = 0


def ballot(voter: str, choice: int, when: int = 1_500, sequence: int = 1) -> Cast:
    data = encrypt_ballot(CONTEXT, KEY, SPEC, voter, [choice]).to_bytes()
    return Cast(voter, sequence, when, data)


def count(casts: list[Cast], eligible: list[str] | None = None):  # type: ignore[no-untyped-def]
    return count_ballots(
        casts,
        context=CONTEXT,
        public_key=KEY,
        spec=SPEC,
        window=WINDOW,
        eligible=None if eligible is None else frozenset(eligible),
        workers=1,
    )


def test_the_last_ballot_counts_and_earlier_ones_are_superseded() -> None:
    a, b = VOTERS[:2]
    result = count([ballot(a, 0), ballot(b, 1), ballot(a, 2, sequence=2)])
    assert result.turnout == 2
    assert result.superseded == 1
    assert {c.voter: c.sequence for c in result.counted} == {a: 2, b: 1}


def test_a_void_last_ballot_does_not_revive_an_earlier_one() -> None:
    a = VOTERS[0]
    broken = bytearray(ballot(a, 1, sequence=2).ballot)
    broken[-1] ^= 1
    result = count([ballot(a, 0), Cast(a, 2, 1_500, bytes(broken))])
    assert result.turnout == 0
    assert a in result.void


def test_window_and_eligibility_void_a_ballot_with_a_reason() -> None:
    a, b, c = VOTERS[:3]
    result = count(
        [ballot(a, 0, when=999), ballot(b, 0, when=2_000), ballot(c, 0)], eligible=[a, b]
    )
    assert result.turnout == 0
    assert "before the opening" in result.void[a]
    assert "after the close" in result.void[b]
    assert "not in the eligibility list" in result.void[c]


def test_a_ballot_bound_to_another_voter_is_void() -> None:
    a, b = VOTERS[:2]
    stolen = ballot(a, 0)
    result = count([Cast(b, 1, 1_500, stolen.ballot)])
    assert b in result.void


def test_one_ballot_is_judged_by_the_same_rule() -> None:
    a = VOTERS[0]
    first, second = ballot(a, 0), ballot(a, 1, sequence=2)
    options = {"context": CONTEXT, "public_key": KEY, "spec": SPEC, "window": WINDOW}
    counted = ballot_verdict(second, [first, second], eligible=None, **options)
    assert counted == Verdict(BallotStatus.COUNTED)
    superseded = ballot_verdict(first, [first, second], eligible=None, **options)
    assert superseded.status is BallotStatus.SUPERSEDED
    stolen = Cast(VOTERS[1], 1, 1_500, ballot(a, 0).ballot)  # bound to another voter
    void = ballot_verdict(stolen, [stolen], eligible=None, **options)
    assert void.status is BallotStatus.VOID
    assert void.reason


@given(st.lists(st.tuples(st.sampled_from(VOTERS), st.integers(0, 7)), max_size=30))
@settings(max_examples=40, deadline=None)
def test_public_poll_counts_only_each_voters_last_valid_vote(
    casts: list[tuple[str, int]],
) -> None:
    spec = BallotSpec(3, 1, 2)
    sequences: dict[str, int] = {}
    events = []
    for voter, choices in casts:
        sequences[voter] = sequences.get(voter, 0) + 1
        events.append(Cast(voter, sequences[voter], 1_500, choices=choices))
    result = count_votes(events, spec=spec, window=WINDOW, eligible=None)
    last = dict(casts)
    valid = {v: c for v, c in last.items() if 1 <= bin(c).count("1") <= 2 and c < 8}
    assert result.voters == frozenset(valid)
    assert list(result.counts) == [sum(c >> o & 1 for c in valid.values()) for o in range(3)]
    assert set(result.void) == set(last) - set(valid)


def test_manifest_methods_fix_the_bounds_and_hash_canonically() -> None:
    yes_no = ElectionManifest.build("Car-free Sundays?", "yes-no")
    assert [o.label for o in yes_no.options] == ["Yes", "No"]
    assert yes_no.spec == BallotSpec(2, 1, 1)
    budget = ElectionManifest.build(
        "District projects",
        VoteMethod.BUDGET,
        ["A", "B", "C"],
        costs=[50, 30, 40],
        max_selections=2,
        budget=80,
    )
    assert budget.spec == BallotSpec(3, 0, 2)
    again = ElectionManifest.from_json(budget.to_json())
    assert again == budget
    assert again.manifest_hash == budget.manifest_hash
    assert json.loads(budget.to_json())["options"][0] == {"label": "A", "cost": 50}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"title": " ", "method": "single", "labels": ["a", "b"]}, "title"),
        ({"title": "t", "method": "single", "labels": ["a"]}, "2 to 32 options"),
        ({"title": "t", "method": "single", "labels": ["a", "a"]}, "distinct"),
        (
            {"title": "t", "method": "approval", "labels": ["a", "b"], "max_selections": 3},
            "do not fit",
        ),
        ({"title": "t", "method": "budget", "labels": ["a", "b"], "costs": [1, 2]}, "budget"),
        ({"title": "t", "method": "single", "labels": ["a", "b"], "budget": 5}, "budgeting only"),
    ],
)
def test_malformed_manifests_are_refused_in_words(kwargs: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ManifestError, match=message):
        ElectionManifest.build(**kwargs)


def test_participatory_budget_funds_by_votes_while_the_budget_lasts() -> None:
    manifest = ElectionManifest.build(
        "Projects",
        "budget",
        ["Park", "Library", "Lights", "Bench"],
        costs=[60, 50, 30, 10],
        budget=100,
    )
    outcome = fund_projects(manifest, [40, 35, 20, 0])
    # Park (60) fits, Library (50) would not, Lights (30) fits; Bench has no votes.
    assert outcome.funded == (0, 2)
    assert outcome.total_cost == 90


def test_trustee_vault_round_trip_and_refusals(tmp_path: Path) -> None:
    trustee = VOTERS[0]
    vault = TrusteeVault(tmp_path, CONTEXT, trustee, scrypt_n=2**4)
    secrets, _ = start_ceremony(CONTEXT, 1, 2)
    vault.save(TrusteeState(secrets), "pw")
    vault.save(TrusteeState(secrets, 12345), "pw")
    loaded = vault.load("pw")
    assert loaded.share == 12345
    assert loaded.secrets.to_bytes() == secrets.to_bytes()
    assert vault.path.stat().st_mode & 0o777 == 0o600
    assert "12345" not in vault.path.read_text()
    with pytest.raises(TrusteeVaultError, match="wrong password"):
        vault.load("not it")
    other = TrusteeVault(
        tmp_path, ElectionContext(44051, "0x" + "11" * 20, 8), trustee, scrypt_n=2**4
    )
    other.path.parent.mkdir(parents=True, exist_ok=True)
    other.path.write_text(vault.path.read_text())
    with pytest.raises(TrusteeVaultError, match="another election"):
        other.load("pw")
    with pytest.raises(TrusteeVaultError, match="no trustee secrets"):
        TrusteeVault(tmp_path, CONTEXT, VOTERS[1]).load("pw")
