"""The M-voting acceptance run on the embedded node, every part real.

200 residents in two districts; a district-only approval vote and a city-wide yes/no secret vote,
each with 3 trustees (threshold 2) who run the key ceremony; residents cast encrypted ballots
(one through the `wallet vote cast` command), some change their minds; the votes close, two
trustees decrypt while the third is absent, the administrator publishes and pays participation
rewards, and `cityledger election audit` passes and agrees with the choices the residents made.
Then the audit is shown to catch each kind of tampering with a precise message: altered
ciphertext, ineligible voter, late ballot, double-counted voter — on copies of the record — and,
for real on chain, a trustee posting a wrong decryption share and an administrator posting a
wrong result.
"""

from __future__ import annotations

import dataclasses
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from typer.testing import CliRunner

from cityledger.cli import app as cityledger
from cityledger.testing.accounts import make_accounts
from cityledger.testing.voting import ballot_calls, register_residents, run_ceremony, send_signed
from ledger.chain import Chain
from ledger.city import City
from ledger.contracts.elections import BallotCast
from ledger.deploy import DeployPlan, deploy_city
from ledger.keys import KeyStore
from ledger.roles import Role
from ledger.types import AccountKind
from ledger.voting import lifecycle
from ledger.voting.audit import audit_election
from ledger.voting.crypto import partial_decrypt
from ledger.voting.eligibility import EligibilityList, snapshot
from ledger.voting.files import ElectionFiles
from ledger.voting.manifest import ElectionManifest
from ledger.voting.record import ElectionRecord, read_record
from ledger.voting.tally import tally_record
from ledger.voting.vault import TrusteeVault
from wallet_cli.main import app as wallet

DISTRICT_A, DISTRICT_B = 5101, 5102
RESIDENTS = {DISTRICT_A: 120, DISTRICT_B: 80}
STAFF = 5  # deployer, admin, treasury, registrar, election admin
TRUSTEES = 3
OUTSIDER = 1  # registered nowhere: ineligible
PASSWORD = "trustee password"
REWARD = 500
WINDOW = 90
"""Seconds of block time the votes stay open: room for three key ceremonies and ~450 ballots on
a loaded CI machine. Block time can run up to a minute ahead of the wall clock while the node
seals many blocks a second (each block's stamp exceeds its parent's), so it is what counts."""
REVOTES = 15


@pytest.fixture(scope="module")
def accounts() -> list[LocalAccount]:
    return make_accounts(STAFF + TRUSTEES + OUTSIDER + sum(RESIDENTS.values()), "e2e-voting")


@dataclass
class Town:
    city: City
    admin: LocalAccount
    treasury: LocalAccount
    registrar: LocalAccount
    election_admin: LocalAccount
    trustees: list[LocalAccount]
    outsider: LocalAccount
    residents: dict[int, list[LocalAccount]]
    data_dir: Path
    manifest_path: Path

    @property
    def files(self) -> ElectionFiles:
        return ElectionFiles(self.data_dir / "elections", self.city.chain.chain_id)

    @property
    def everyone(self) -> dict[str, LocalAccount]:
        return {p.address: p for people in self.residents.values() for p in people}

    def cli(self, *args: str) -> list[str]:
        return [
            "election",
            "--rpc-url",
            self.city.chain.rpc_url,
            "--network",
            self.manifest_path.stem,
            "--deployments-dir",
            str(self.manifest_path.parent),
            "--data-dir",
            str(self.data_dir),
            *args,
        ]


@pytest.fixture(scope="module")
def town(embedded_node, accounts: list[LocalAccount], tmp_path_factory) -> Town:  # type: ignore[no-untyped-def]
    deployer, admin, treasury, registrar, election_admin = accounts[:STAFF]
    trustees = accounts[STAFF : STAFF + TRUSTEES]
    outsider = accounts[STAFF + TRUSTEES]
    people = accounts[STAFF + TRUSTEES + OUTSIDER :]
    residents = {
        DISTRICT_A: people[: RESIDENTS[DISTRICT_A]],
        DISTRICT_B: people[RESIDENTS[DISTRICT_A] :],
    }
    manifest_path = tmp_path_factory.mktemp("deployments") / "voting.json"
    plan = DeployPlan(
        network="voting",
        admin=admin.address,
        grants={
            Role.TREASURY: [(treasury.address, 0)],
            Role.REGISTRAR: [(registrar.address, 0)],
            Role.ELECTION_ADMIN: [(election_admin.address, 0)],
        },
    )
    chain = Chain(embedded_node.url)
    city = City.at(chain, deploy_city(chain, deployer, plan, manifest_path))
    register_residents(city, registrar, residents)
    # The treasury funds the voting programme from tokens issued to itself.
    city.registry.register(registrar, treasury.address, AccountKind.CITY_SERVICE, 0, b"t" * 32)
    city.token.mint(treasury, treasury.address, 500_000, "voting-budget")
    city.rewards.fund(treasury, city.rewards.programme_id("voting"), 500_000)
    return Town(
        city,
        admin,
        treasury,
        registrar,
        election_admin,
        list(trustees),
        outsider,
        residents,
        tmp_path_factory.mktemp("voting-data"),
        manifest_path,
    )


@dataclass
class Vote:
    election_id: int
    manifest: ElectionManifest
    eligibility: EligibilityList
    choices: dict[str, list[int]]
    """Each voter's last choice: what the result must say."""


def _create(
    town: Town, manifest: ElectionManifest, districts: tuple[int, ...], closes: int
) -> Vote:
    city = town.city
    eligibility = snapshot(
        city.registry,
        block=city.chain.block_number(),
        kinds=(AccountKind.RESIDENT,),
        districts=districts,
    )
    election_id = lifecycle.create_election(
        city,
        town.election_admin,
        manifest,
        eligibility,
        opens_at=city.chain.latest_timestamp(),
        closes_at=closes,
        trustees=[t.address for t in town.trustees],
        threshold=2,
        reward=REWARD,
        files=town.files,
    )
    return Vote(election_id, manifest, eligibility, {})


@pytest.fixture(scope="module")
def votes(town: Town) -> dict[str, Vote]:
    """Both votes created, keyed, cast (with re-votes), closed, decrypted by trustees 1 and 3,
    published and rewarded."""
    city = town.city
    closes = city.chain.latest_timestamp() + WINDOW
    approval = _create(
        town,
        ElectionManifest.build(
            "Which projects should district 5101 fund next year?",
            "approval",
            ["Library hours", "Bike lanes", "Playground", "Night buses", "Tree planting"],
            min_selections=1,
            max_selections=3,
        ),
        (DISTRICT_A,),
        closes,
    )
    referendum = _create(
        town, ElectionManifest.build("Car-free Sundays downtown?", "yes-no"), (), closes
    )
    sabotaged = _create(
        town, ElectionManifest.build("Extend the market hours?", "yes-no"), (DISTRICT_B,), closes
    )
    for vote in (approval, referendum, sabotaged):
        run_ceremony(city, town.trustees, town.data_dir / "trustees", PASSWORD, vote.election_id)
        lifecycle.open_election(city, town.election_admin, vote.election_id)

    rng = random.Random(2026)
    people = town.everyone
    for address in approval.eligibility.accounts:
        approval.choices[address] = sorted(rng.sample(range(5), rng.randint(1, 3)))
    for address in referendum.eligibility.accounts:
        referendum.choices[address] = [0 if rng.random() < 0.6 else 1]
    for number, address in enumerate(sabotaged.eligibility.accounts[:6]):
        sabotaged.choices[address] = [0 if number < 4 else 1]
    first_round = []
    for vote in (approval, referendum, sabotaged):
        first_round += ballot_calls(city, vote.election_id, vote.choices, people, vote.eligibility)
    send_signed(city, first_round)
    # Some change their minds before the close: their last ballot is the one that counts.
    second_round = []
    for vote, flip in (
        (approval, lambda c: [4] if c != [4] else [0]),
        (referendum, lambda c: [1 - c[0]]),
    ):
        changed = {a: flip(vote.choices[a]) for a in vote.eligibility.accounts[:REVOTES]}
        vote.choices.update(changed)
        second_round += ballot_calls(city, vote.election_id, changed, people, vote.eligibility)
    send_signed(city, second_round)
    # One resident re-votes with the wallet command, as a person would.
    resident = people[approval.eligibility.accounts[-1]]
    approval.choices[resident.address] = [1, 2]
    _wallet_cast(town, resident, approval.election_id, ["Bike lanes", "3"])

    _wait_until(city, closes)
    for vote in (approval, referendum, sabotaged):
        lifecycle.close_election(city, town.admin, vote.election_id)
    return {"approval": approval, "referendum": referendum, "sabotaged": sabotaged}


def _wallet_cast(town: Town, voter: LocalAccount, election_id: int, picks: list[str]) -> None:
    keystore = town.data_dir / "wallet"
    KeyStore(keystore).import_private_key("me", voter.key.hex(), PASSWORD, scrypt_n=2**4)
    shared = [
        "--rpc-url",
        town.city.chain.rpc_url,
        "--network",
        town.manifest_path.stem,
        "--deployments-dir",
        str(town.manifest_path.parent),
        "--keystore-dir",
        str(keystore),
    ]
    outcome = CliRunner().invoke(
        wallet,
        [
            "vote",
            "cast",
            "me",
            str(election_id),
            *picks,
            *shared,
            "--yes",
            "--files-dir",
            str(town.data_dir / "elections"),
        ],
        env={"CITYLEDGER_PASSWORD": PASSWORD, "CITYLEDGER_API_URL": None},
    )
    assert outcome.exit_code == 0, outcome.output
    assert "tracking code: 0x" in outcome.output
    code = outcome.output.split("tracking code: ")[1].split()[0]
    check = CliRunner().invoke(wallet, ["vote", "verify", str(election_id), code, *shared])
    assert check.exit_code == 0, check.output
    assert "counts" in check.output


def _wait_until(city: City, moment: int) -> None:
    """Until the next block's timestamp (the later of wall time and the last stamp + 1) is at
    least ``moment``."""
    while max(city.chain.latest_timestamp() + 1, int(time.time())) < moment:
        time.sleep(0.5)


def _vault(town: Town, trustee: LocalAccount, election_id: int) -> TrusteeVault:
    return TrusteeVault(
        town.data_dir / "trustees",
        lifecycle.context_of(town.city, election_id),
        trustee.address,
        scrypt_n=2**4,
    )


@pytest.fixture(scope="module")
def results(town: Town, votes: dict[str, Vote]) -> dict[str, lifecycle.PublishedResult]:
    city = town.city
    published = {}
    for name in ("approval", "referendum"):
        vote = votes[name]
        for trustee in (town.trustees[0], town.trustees[2]):  # trustee 2 is away
            lifecycle.trustee_decrypt(
                city,
                trustee,
                _vault(town, trustee, vote.election_id),
                PASSWORD,
                vote.election_id,
                vote.eligibility,
            )
        published[name] = lifecycle.publish_result(
            city, town.election_admin, vote.election_id, vote.eligibility
        )
        lifecycle.pay_rewards(
            city, town.election_admin, vote.election_id, sorted(published[name].voters)
        )
    return published


def _expected(vote: Vote) -> list[int]:
    counts = [0] * len(vote.manifest.options)
    for picked in vote.choices.values():
        for option in picked:
            counts[option] += 1
    return counts


def test_results_match_the_residents_choices(
    town: Town, votes: dict[str, Vote], results: dict[str, lifecycle.PublishedResult]
) -> None:
    for name in ("approval", "referendum"):
        vote, result = votes[name], results[name]
        assert list(result.counts) == _expected(vote)
        assert result.turnout == len(vote.choices) == len(vote.eligibility.accounts)
        posted = town.city.elections.result(vote.election_id)
        assert posted is not None
        assert list(posted.counts) == _expected(vote)
    assert len(votes["approval"].eligibility.accounts) == RESIDENTS[DISTRICT_A]
    assert len(votes["referendum"].eligibility.accounts) == sum(RESIDENTS.values())


def test_rewards_paid_once_per_counted_ballot(
    town: Town, votes: dict[str, Vote], results: dict[str, lifecycle.PublishedResult]
) -> None:
    token = town.city.token
    for district, people in town.residents.items():
        votes_cast = 2 if district == DISTRICT_A else 1
        for person in people[:10]:
            assert token.balance_of(person.address) == REWARD * votes_cast
    # Paying again is a no-op: grants are idempotent by evidence.
    vote = votes["referendum"]
    again = lifecycle.pay_rewards(
        town.city, town.election_admin, vote.election_id, sorted(results["referendum"].voters)
    )
    assert again == 0


def test_audit_command_passes(town: Town, votes: dict[str, Vote], results: object) -> None:
    for name in ("approval", "referendum"):
        vote = votes[name]
        outcome = CliRunner().invoke(cityledger, town.cli("audit", str(vote.election_id)))
        assert outcome.exit_code == 0, outcome.output
        assert "PASSED" in outcome.output
        assert str(_expected(vote)) in outcome.output.replace("\n", " ")


def test_anyone_audits_from_the_chain_and_the_published_list_alone(
    town: Town, votes: dict[str, Vote], results: object, tmp_path: Path
) -> None:
    """No deployment manifest, no city data folder: the RPC URL, the contract addresses and
    the eligibility list file are all an outside auditor needs."""
    vote = votes["approval"]
    listed = tmp_path / "eligibility.json"
    listed.write_bytes(town.files.eligibility_bytes(vote.election_id))
    outcome = CliRunner().invoke(
        cityledger,
        [
            "election",
            "--rpc-url",
            town.city.chain.rpc_url,
            "--data-dir",
            str(tmp_path / "nothing-here"),
            "audit",
            str(vote.election_id),
            "--elections",
            town.city.elections.address,
            "--rewards",
            town.city.rewards.address,
            "--eligibility",
            str(listed),
            "--json",
        ],
    )
    assert outcome.exit_code == 0, outcome.output
    report = json.loads(outcome.stdout)
    assert report["ok"] is True
    assert report["counts"] == _expected(vote)
    assert report["turnout"] == len(vote.eligibility.accounts)
    assert {f["check"] for f in report["findings"]} >= {
        "eligibility list",
        "key ceremony",
        "ballots",
        "decryption shares",
        "result",
        "rewards",
    }


# -- tampering: each alteration of the record is caught with a precise message -------------------


def _record(town: Town, vote: Vote) -> ElectionRecord:
    return read_record(town.city.elections, vote.election_id, town.city.rewards)


def _failures(record: ElectionRecord, vote: Vote) -> str:
    report = audit_election(record, vote.eligibility, vote.eligibility.to_json())
    assert not report.ok
    return " | ".join(f"{f.check}: {f.detail}" for f in report.failures)


def _replace_ballot(record: ElectionRecord, index: int, cast: BallotCast) -> ElectionRecord:
    ballots = list(record.ballots)
    ballots[index] = cast
    return dataclasses.replace(record, ballots=tuple(ballots))


def test_the_untampered_record_passes(town: Town, votes: dict[str, Vote], results: object) -> None:
    vote = votes["referendum"]
    report = audit_election(_record(town, vote), vote.eligibility, vote.eligibility.to_json())
    assert report.ok, report.failures
    assert list(report.counts or ()) == _expected(vote)


def test_audit_catches_an_altered_ciphertext(
    town: Town, votes: dict[str, Vote], results: object
) -> None:
    vote = votes["referendum"]
    record = _record(town, vote)
    cast = record.ballots[-1]
    altered = bytearray(cast.ballot)
    altered[2 + 40] ^= 0x01  # inside option 0's beta
    message = _failures(
        _replace_ballot(
            record, len(record.ballots) - 1, dataclasses.replace(cast, ballot=bytes(altered))
        ),
        vote,
    )
    assert f"the ballot of {cast.voter} #{cast.sequence}" in message
    assert "does not hash to its tracking code" in message


def test_audit_catches_an_ineligible_voter(
    town: Town, votes: dict[str, Vote], results: object
) -> None:
    vote = votes["approval"]
    record = _record(town, vote)
    intruder = town.residents[DISTRICT_B][0].address  # district B: not eligible for this vote
    cast = dataclasses.replace(record.ballots[0], voter=intruder, sequence=1)
    message = _failures(dataclasses.replace(record, ballots=(*record.ballots, cast)), vote)
    assert f"comes from {intruder}, who is not on the eligibility list" in message


def test_audit_catches_a_late_ballot(town: Town, votes: dict[str, Vote], results: object) -> None:
    vote = votes["referendum"]
    record = _record(town, vote)
    cast = record.ballots[3]
    late = dataclasses.replace(cast, block_timestamp=record.state.config.closes_at)
    message = _failures(_replace_ballot(record, 3, late), vote)
    assert f"the ballot of {cast.voter} #{cast.sequence}" in message
    assert "after the close" in message


def test_audit_catches_a_double_counted_voter(
    town: Town, votes: dict[str, Vote], results: object
) -> None:
    vote = votes["referendum"]
    record = _record(town, vote)
    cast = record.ballots[-1]
    message = _failures(dataclasses.replace(record, ballots=(*record.ballots, cast)), vote)
    assert f"{cast.voter}'s ballots are numbered" in message
    assert "counted twice" in message


def test_audit_catches_a_wrong_trustee_share_and_a_wrong_result_on_chain(
    town: Town, votes: dict[str, Vote]
) -> None:
    """Trustee 1 posts a share computed with the wrong secret; the administrator posts counts
    that the tally does not decrypt to. Both are real transactions the contract accepts (it
    cannot check them); the audit names both."""
    city, vote = town.city, votes["sabotaged"]
    record = read_record(city.elections, vote.election_id)
    tally = tally_record(record, frozenset(vote.eligibility.accounts))
    state = _vault(town, town.trustees[0], vote.election_id).load(PASSWORD)
    assert state.share is not None
    forged = partial_decrypt(record.context, 1, state.share + 1, tally.ciphertexts)
    city.elections.post_decryption(town.trustees[0], vote.election_id, forged.to_bytes())
    for trustee in town.trustees[1:]:
        lifecycle.trustee_decrypt(
            city,
            trustee,
            _vault(town, trustee, vote.election_id),
            PASSWORD,
            vote.election_id,
            vote.eligibility,
        )
    honest = _expected(vote)
    city.elections.publish_result(
        town.election_admin,
        vote.election_id,
        [honest[1], honest[0]],
        tally.count.turnout,
        tally.hash,
    )
    outcome = CliRunner().invoke(cityledger, town.cli("audit", str(vote.election_id)))
    assert outcome.exit_code == 1, outcome.output
    text = " ".join(outcome.output.split())
    assert "trustee 1's decryption share fails" in text
    assert f"option 0: posted {honest[1]}, the tally decrypts to {honest[0]}" in text
    assert "FAILED" in text
