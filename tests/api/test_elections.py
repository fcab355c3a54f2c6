"""The votes API on the real chain: the public bulletin board, the published files and the
non-custodial ballot relay.

Four residents are eligible (a snapshot of the registry); three trustees (threshold 2) run the
key ceremony of each secret vote. The votes: an open secret approval vote (the relay's main
subject), an open public poll, a secret vote still in setup, a secret vote that is cast in,
closed, decrypted by two trustees and published (with a re-vote and a void ballot), an open poll
whose files are not published on this server, and a 32-option vote for the largest ballot.
Residents sign their ballots with ``Elections.sign_ballot`` in their own "wallet" here; the API
casts them with its service account.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance
from typer.testing import CliRunner

from api.core import scopes
from api.core.errors import ApiError
from api.elections.casting import submit_cast
from api.idempotency import REPLAY_HEADER
from api.services import Services
from cityledger.testing.api import DISTRICT, ApiServer, World, credential, sign_in
from cityledger.testing.voting import run_ceremony
from ledger.city import City
from ledger.contracts.elections import ElectionPhase, choices_mask
from ledger.exceptions import ContractRevertError
from ledger.roles import Role
from ledger.types import AccountKind
from ledger.voting import lifecycle
from ledger.voting.crypto import encrypt_ballot, tracking_code
from ledger.voting.crypto.context import MAX_BALLOT_BYTES, ballot_size
from ledger.voting.eligibility import EligibilityList, snapshot, verify_proof
from ledger.voting.files import ElectionFiles
from ledger.voting.manifest import ElectionManifest
from ledger.voting.record import spec_of
from ledger.voting.vault import TrusteeVault
from wallet_cli.main import app as wallet

PASSWORD = "trustee password"
CLOSED_WINDOW = 90
"""Chain seconds the closed vote is open: its ceremony, opening and ballots fit in it."""
LONG = 30 * 86_400


@dataclass
class Votes:
    city: City
    admin: LocalAccount
    voters: list[LocalAccount]
    """The four eligible residents."""
    trustees: list[LocalAccount]
    files: ElectionFiles
    eligibility: EligibilityList
    secret: int = 0
    poll: int = 0
    setup: int = 0
    closed: int = 0
    unpublished: int = 0
    large: int = 0
    manifests: dict[int, ElectionManifest] = field(default_factory=dict)
    codes: dict[str, bytes] = field(default_factory=dict)
    """Tracking codes of the closed vote's ballots, by name."""
    while_counting: dict[str, Any] = field(default_factory=dict)
    """What the API answered about the closed vote between its close and its result."""

    def create(
        self,
        manifest: ElectionManifest,
        *,
        window: int = LONG,
        quorum: int = 0,
        files: ElectionFiles | None = None,
    ) -> int:
        opens = self.city.chain.latest_timestamp()
        election_id = lifecycle.create_election(
            self.city,
            self.admin,
            manifest,
            self.eligibility,
            opens_at=opens,
            closes_at=opens + window,
            trustees=[] if manifest.public else [t.address for t in self.trustees],
            threshold=0 if manifest.public else 2,
            quorum=quorum,
            files=files or self.files,
        )
        self.manifests[election_id] = manifest
        return election_id

    def key_and_open(self, election_id: int, vault_dir: Path) -> None:
        if not self.manifests[election_id].public:
            run_ceremony(self.city, self.trustees, vault_dir, PASSWORD, election_id)
        lifecycle.open_election(self.city, self.admin, election_id)

    def ballot(self, voter: LocalAccount, election_id: int, choices: list[int]) -> bytes:
        state = self.city.elections.election(election_id)
        return encrypt_ballot(
            lifecycle.context_of(self.city, election_id),
            lifecycle.public_key_of(state),
            spec_of(state.config),
            voter.address,
            choices,
        ).to_bytes()

    def deadline(self) -> int:
        return self.city.chain.latest_timestamp() + 3600


def _advance_chain(city: City, signer: LocalAccount, timestamp: int) -> None:
    """Mine blocks (each at least a second after its parent) until the chain's time passes
    ``timestamp``: the test node lets block time run ahead of the wall clock."""
    while city.chain.latest_timestamp() < timestamp:
        city.chain.transact(signer, to=signer.address)


def _broken(ballot: bytes) -> bytes:
    """The ballot with the last byte of option 0's ``u_1`` flipped: it parses, its 0/1 proof
    fails."""
    altered = bytearray(ballot)
    altered[2 + 66 + 4 * 32 - 1] ^= 0x01
    return bytes(altered)


@pytest.fixture(scope="module")
def files_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data") / "elections"


@pytest.fixture(scope="module")
def api(world: World, files_root: Path) -> Iterator[ApiServer]:
    """The API reading the folder `cityledger election` publishes to."""
    server = ApiServer(world.settings(elections_dir=files_root)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def votes(
    world: World, api: ApiServer, files_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Votes:
    test_city = world.city
    city = test_city.city
    admin = test_city.admin
    city.authority.grant_role(admin, Role.ELECTION_ADMIN, admin.address)
    extra = world.spare[:2]
    for person in extra:
        city.registry.register(
            test_city.registrar,
            person.address,
            AccountKind.RESIDENT,
            DISTRICT,
            credential(person.address),
        )
    eligibility = snapshot(
        city.registry, block=city.chain.block_number(), kinds=(AccountKind.RESIDENT,)
    )
    voters = [world.resident_1, world.resident_2, *extra]
    assert set(eligibility.accounts) == {v.address for v in voters}
    vaults = tmp_path_factory.mktemp("trustees")
    v = Votes(
        city,
        admin,
        voters,
        world.spare[2:5],
        ElectionFiles(files_root, city.chain.chain_id),
        eligibility,
    )

    # The closed vote: cast in (a re-vote, a void ballot), closed, decrypted and published.
    v.closed = v.create(
        ElectionManifest.build("Rename the central park?", "single", ["Keep", "Rename", "Vote"]),
        window=CLOSED_WINDOW,
        quorum=2,
    )
    v.key_and_open(v.closed, vaults)
    first, second, third, _ = voters
    casts = {
        "first_old": (first, [0]),
        "first_new": (first, [1]),
        "second": (second, [0]),
    }
    for name, (voter, choices) in casts.items():
        receipt = lifecycle.cast_ballot(city, voter, v.closed, choices, eligibility)
        v.codes[name] = receipt.tracking_code
    void = _broken(v.ballot(third, v.closed, [2]))
    city.elections.cast_ballot(third, v.closed, void, eligibility.proof(third.address))
    v.codes["void"] = tracking_code(void)
    state = city.elections.election(v.closed)
    _advance_chain(city, test_city.deployer, state.config.closes_at)
    lifecycle.close_election(city, admin, v.closed)
    with api.client() as client:
        answer = client.get(f"/elections/{v.closed}/result")
        v.while_counting = {"status": answer.status_code, **answer.json()}
    for trustee in (v.trustees[0], v.trustees[2]):  # trustee 2 is away
        vault = TrusteeVault(
            vaults, lifecycle.context_of(city, v.closed), trustee.address, scrypt_n=2**4
        )
        lifecycle.trustee_decrypt(city, trustee, vault, PASSWORD, v.closed, eligibility)
    lifecycle.publish_result(city, admin, v.closed, eligibility)

    # The open votes.
    v.secret = v.create(
        ElectionManifest.build(
            "Which two should the city fund?",
            "approval",
            ["Library hours", "Bike lanes", "Night buses"],
            max_selections=2,
        )
    )
    v.key_and_open(v.secret, vaults)
    v.poll = v.create(
        ElectionManifest.build(
            "Best day for the street market?",
            "single",
            ["Friday", "Saturday", "Sunday"],
            public=True,
        )
    )
    v.key_and_open(v.poll, vaults)
    v.setup = v.create(ElectionManifest.build("Extend the night buses?", "yes-no"))
    v.unpublished = v.create(
        ElectionManifest.build("A poll published elsewhere", "yes-no", public=True),
        files=ElectionFiles(tmp_path_factory.mktemp("elsewhere"), city.chain.chain_id),
    )
    v.key_and_open(v.unpublished, vaults)
    v.large = v.create(
        ElectionManifest.build(
            "Which projects? (any of 32)",
            "approval",
            [f"Project {n}" for n in range(1, 33)],
            min_selections=0,
        )
    )
    v.key_and_open(v.large, vaults)
    return v


def _ballot_body(
    v: Votes,
    voter: LocalAccount,
    election_id: int,
    ballot: bytes,
    *,
    deadline: int | None = None,
    sequence: int | None = None,
) -> dict[str, Any]:
    deadline = deadline or v.deadline()
    signature = v.city.elections.sign_ballot(voter, election_id, ballot, deadline, sequence)
    return {
        "voter": voter.address,
        "ballot": "0x" + ballot.hex(),
        "deadline": deadline,
        "signature": "0x" + signature.hex(),
    }


def _vote_body(
    v: Votes, voter: LocalAccount, election_id: int, choices: list[int], **overrides: Any
) -> dict[str, Any]:
    deadline = v.deadline()
    signature = v.city.elections.sign_vote(voter, election_id, choices_mask(choices), deadline)
    body = {
        "voter": voter.address,
        "choices": choices,
        "deadline": deadline,
        "signature": "0x" + signature.hex(),
    }
    body.update(overrides)
    return body


@pytest.fixture(scope="module")
def tokens(api: ApiServer, votes: Votes, world: World) -> dict[str, str]:
    with api.client() as client:
        return {
            account.address: sign_in(client, account)
            for account in (*votes.voters, world.merchant_a)
        }


def _refused(response: httpx.Response, status: int, code: str) -> str:
    assert (response.status_code, response.json().get("code")) == (status, code), response.text
    detail: str = response.json()["detail"]
    assert detail
    return detail


# -- reads ----------------------------------------------------------------------------------------


def test_list_elections_newest_first_and_paged(api: ApiServer, votes: Votes) -> None:
    with api.client() as client:
        answer = client.get("/elections")
        assert answer.status_code == 200, answer.text
        items = answer.json()["items"]
        assert [e["id"] for e in items] == list(range(votes.large, 0, -1))
        by_id = {e["id"]: e for e in items}
        secret = by_id[votes.secret]
        assert secret["title"] == "Which two should the city fund?"
        assert (secret["kind"], secret["phase"], secret["accepting_ballots"]) == (
            "secret_ballot",
            "open",
            True,
        )
        assert secret["eligible_count"] == 4
        assert (by_id[votes.poll]["kind"], by_id[votes.poll]["method"]) == ("public_poll", "single")
        assert by_id[votes.setup]["phase"] == "setup"
        assert not by_id[votes.setup]["accepting_ballots"]
        assert (by_id[votes.closed]["phase"], by_id[votes.closed]["voter_count"]) == ("tallied", 3)
        assert by_id[votes.unpublished]["title"] is None  # its files are elsewhere

        seen: list[int] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = client.get("/elections", params=params).json()
            seen += [e["id"] for e in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == [e["id"] for e in items]
        _refused(client.get("/elections", params={"cursor": "nonsense"}), 422, "invalid_cursor")


def test_election_detail(api: ApiServer, votes: Votes) -> None:
    elections = votes.city.elections
    state = elections.election(votes.secret)
    with api.client() as client:
        detail = client.get(f"/elections/{votes.secret}").json()
        assert detail["kind"] == "secret_ballot"
        assert detail["contract"] == elections.address
        assert detail["election_key"] == "0x" + (state.public_key or b"").hex()
        config = detail["config"]
        assert config["manifest_hash"] == "0x" + state.config.manifest_hash.hex()
        assert config["eligibility_list_hash"] == "0x" + state.config.eligibility_list_hash.hex()
        assert config["eligibility_root"] == "0x" + votes.eligibility.root.hex()
        assert config["ballot_length"] == ballot_size(3, 1, 2)
        assert [t["address"] for t in detail["trustees"]] == [t.address for t in votes.trustees]
        assert all(t["committed"] and t["shares_posted"] for t in detail["trustees"])
        assert not any(t["decrypted"] for t in detail["trustees"])
        manifest = detail["manifest"]
        assert (manifest["method"], manifest["min_selections"], manifest["max_selections"]) == (
            "approval",
            1,
            2,
        )
        assert [o["label"] for o in manifest["options"]] == [
            "Library hours",
            "Bike lanes",
            "Night buses",
        ]
        assert (detail["manifest_file"], detail["eligibility_file"]) == ("published", "published")
        assert detail["result"] is None
        assert detail["live_counts"] is None

        poll = client.get(f"/elections/{votes.poll}").json()
        assert (poll["trustees"], poll["election_key"]) == ([], None)
        assert poll["live_counts"] == list(elections.live_counts(votes.poll))

        closed = client.get(f"/elections/{votes.closed}").json()
        assert [t["decrypted"] for t in closed["trustees"]] == [True, False, True]
        assert closed["result"]["counts"] == [1, 1, 0]

        _refused(client.get("/elections/999"), 404, "election_not_found")
        assert client.get("/elections/0").status_code == 422
        assert client.get("/elections/abc").status_code == 422


def test_published_files_are_the_bytes_the_chain_hashes(
    api: ApiServer, votes: Votes, world: World
) -> None:
    """What the wallet does: fetch `{api}/elections/{id}/manifest` and `.../eligibility`, and
    check their keccak256 against the election's hashes on chain."""
    with api.client() as client:
        for election_id in (votes.secret, votes.poll, votes.closed):
            config = votes.city.elections.election(election_id).config
            manifest = client.get(f"/elections/{election_id}/manifest")
            eligibility = client.get(f"/elections/{election_id}/eligibility")
            for answer, expected in (
                (manifest, config.manifest_hash),
                (eligibility, config.eligibility_list_hash),
            ):
                assert answer.status_code == 200, answer.text
                assert answer.headers["content-type"] == "application/json"
                assert keccak(answer.content) == expected
                assert answer.headers["etag"] == f'"0x{expected.hex()}"'
            assert manifest.content == votes.manifests[election_id].to_json()
            assert EligibilityList.from_json(eligibility.content) == votes.eligibility
    # The wallet itself, pointed at this API.
    shared = [
        "--rpc-url",
        world.city.url,
        "--network",
        world.city.manifest_path.stem,
        "--deployments-dir",
        str(world.city.manifest_path.parent),
    ]
    outcome = CliRunner().invoke(
        wallet,
        ["vote", "show", str(votes.secret), "--api-url", api.url + "/api/v1", *shared],
        env={"CITYLEDGER_API_URL": None},
    )
    assert outcome.exit_code == 0, outcome.output
    assert "Which two should the city fund?" in outcome.output
    assert "Night buses" in outcome.output


def test_eligibility_lookup(api: ApiServer, votes: Votes, world: World) -> None:
    root = votes.eligibility.root
    with api.client() as client:
        for voter in votes.voters:
            answer = client.get(f"/elections/{votes.secret}/eligibility/{voter.address.lower()}")
            assert answer.status_code == 200, answer.text
            found = answer.json()
            assert (found["eligible"], found["address"]) == (True, voter.address)
            assert found["root"] == "0x" + root.hex()
            proof = [bytes.fromhex(p[2:]) for p in found["proof"]]
            assert verify_proof(root, voter.address, proof)
        outsider = client.get(f"/elections/{votes.secret}/eligibility/{world.merchant_a.address}")
        assert (outsider.json()["eligible"], outsider.json()["proof"]) == (False, [])
        _refused(
            client.get(f"/elections/{votes.secret}/eligibility/0x1234"), 422, "validation_error"
        )
        _refused(
            client.get(f"/elections/999/eligibility/{world.merchant_a.address}"),
            404,
            "election_not_found",
        )


# -- the relay ------------------------------------------------------------------------------------


def test_relay_a_ballot_and_a_re_vote(api: ApiServer, votes: Votes, tokens: dict[str, str]) -> None:
    city, election = votes.city, votes.secret
    voter = votes.voters[0]
    ballot = votes.ballot(voter, election, [0, 2])
    with api.client(tokens[voter.address]) as client:
        cast = client.post(
            f"/elections/{election}/ballots", json=_ballot_body(votes, voter, election, ballot)
        )
        assert cast.status_code == 201, cast.text
        receipt = cast.json()
        code = "0x" + keccak(ballot).hex()
        assert receipt["tracking_code"] == code
        assert (receipt["voter"], receipt["sequence"], receipt["status"]) == (
            voter.address,
            1,
            "confirmed",
        )
        assert receipt["function"] == "castBallotFor"
        assert city.elections.last_ballot_hash_of(election, voter.address) == keccak(ballot)
        (event,) = city.elections.ballots(election, voter=voter.address)
        assert (event.voter, event.ballot, event.block_number) == (
            voter.address,
            ballot,
            receipt["block_number"],
        )

        board = client.get(f"/elections/{election}/ballots", params={"voter": voter.address})
        (entry,) = board.json()["items"]
        assert (entry["tracking_code"], entry["status"], entry["sequence"]) == (code, "live", 1)
        one = client.get(f"/elections/{election}/ballots/{code}").json()
        assert (one["status"], one["ballot"]) == ("live", "0x" + ballot.hex())

        # A re-vote, sent with an Idempotency-Key and repeated: cast once.
        again = votes.ballot(voter, election, [1])
        body = _ballot_body(votes, voter, election, again)
        headers = {"Idempotency-Key": "re-vote-1"}
        revote = client.post(f"/elections/{election}/ballots", json=body, headers=headers)
        assert revote.status_code == 201, revote.text
        assert revote.json()["sequence"] == 2
        replay = client.post(f"/elections/{election}/ballots", json=body, headers=headers)
        assert replay.status_code == 201
        assert replay.headers[REPLAY_HEADER] == "true"
        assert replay.json() == revote.json()
        assert city.elections.sequence_of(election, voter.address) == 2
        # The same authorization sent again without the key is recognised, not re-sent.
        detail = _refused(
            client.post(f"/elections/{election}/ballots", json=body), 409, "ballot_already_cast"
        )
        assert "#2" in detail

        new_code = "0x" + keccak(again).hex()
        statuses = {
            e["tracking_code"]: e["status"]
            for e in client.get(f"/elections/{election}/ballots").json()["items"]
        }
        assert statuses == {code: "superseded", new_code: "live"}
        assert client.get(f"/elections/{election}/ballots/{code}").json()["status"] == "superseded"
        assert client.get(f"/elections/{election}/ballots/{new_code}").json()["status"] == "live"
        assert client.get(f"/elections/{election}").json()["voter_count"] == 1


def test_relay_answers_202_while_pending(
    serve: Any, files_root: Path, votes: Votes, tokens: dict[str, str]
) -> None:
    """With no relay wait the API answers at once: 202 pending (or 201 if already mined)."""
    quick = serve(elections_dir=files_root, relay_wait=0.0)
    voter, election = votes.voters[3], votes.secret
    ballot = votes.ballot(voter, election, [1, 2])
    with quick.client(tokens[voter.address]) as client:
        answer = client.post(
            f"/elections/{election}/ballots", json=_ballot_body(votes, voter, election, ballot)
        )
    assert answer.status_code in (201, 202), answer.text
    receipt = answer.json()
    assert receipt["status"] == ("pending" if answer.status_code == 202 else "confirmed")
    votes.city.chain.w3.eth.wait_for_transaction_receipt(receipt["tx_hash"], timeout=30)
    assert votes.city.elections.last_ballot_hash_of(election, voter.address) == keccak(ballot)


def test_relay_refusals(api: ApiServer, votes: Votes, world: World, tokens: dict[str, str]) -> None:
    """Every refusal is a 4xx with a reason, and none casts anything."""
    city, election = votes.city, votes.secret
    me, other = votes.voters[1], votes.voters[2]
    path = f"/elections/{election}/ballots"
    mine = votes.ballot(me, election, [0])
    good = _ballot_body(votes, me, election, mine)
    before = city.elections.election(election).voter_count

    with api.client() as anonymous:
        assert anonymous.post(path, json=good).status_code == 401
    with api.client(tokens[other.address]) as client:
        # Ownership: a resident relays only its own ballot, even one validly signed by another.
        detail = _refused(client.post(path, json=good), 403, "forbidden")
        assert "only your own ballot" in detail
    admin_key = world.key(None, frozenset({scopes.ADMIN}))
    with api.client(admin_key) as client:
        _refused(client.post(path, json=good), 403, "forbidden")
    with api.client(world.key(world.merchant_a)) as client:
        _refused(client.post(path, json=good), 403, "forbidden")

    with api.client(tokens[me.address]) as client:
        _refused(client.post("/elections/999/ballots", json=good), 404, "election_not_found")
        for bad in ("0xzz", "0x123", "1234", "0x"):
            _refused(client.post(path, json={**good, "ballot": bad}), 422, "validation_error")
        too_big = "0x" + "00" * (MAX_BALLOT_BYTES + 1)
        _refused(client.post(path, json={**good, "ballot": too_big}), 422, "validation_error")
        _refused(client.post(path, json={**good, "signature": "0x12"}), 422, "validation_error")
        huge = {**good, "padding": "x" * (70 * 1024)}
        assert client.post(path, json=huge).status_code == 413

        short = _ballot_body(votes, me, election, mine[:-1])
        detail = _refused(client.post(path, json=short), 422, "invalid_ballot_length")
        assert f"exactly {len(mine)} bytes" in detail

        forged = {**good, "deadline": good["deadline"] + 1}
        _refused(client.post(path, json=forged), 422, "invalid_ballot_signature")
        later = _ballot_body(votes, me, election, mine, sequence=5)
        _refused(client.post(path, json=later), 422, "invalid_ballot_signature")
        expired = _ballot_body(
            votes, me, election, mine, deadline=city.chain.latest_timestamp() - 5
        )
        _refused(client.post(path, json=expired), 422, "authorization_expired")

        broken = _ballot_body(votes, me, election, _broken(mine))
        detail = _refused(client.post(path, json=broken), 422, "invalid_ballot")
        assert "option 0" in detail.lower() or "proof" in detail.lower()
        # A ballot made for another voter: its proofs are bound to that voter.
        theirs = _ballot_body(votes, me, election, votes.ballot(other, election, [0]))
        _refused(client.post(path, json=theirs), 422, "invalid_ballot")

        closed = _ballot_body(votes, me, votes.closed, votes.ballot(me, votes.closed, [0]))
        detail = _refused(
            client.post(f"/elections/{votes.closed}/ballots", json=closed), 409, "election_not_open"
        )
        assert "closed at" in detail
        detail = _refused(
            client.post(f"/elections/{votes.setup}/ballots", json=good), 409, "election_not_open"
        )
        assert "not open yet" in detail
        detail = _refused(
            client.post(f"/elections/{votes.poll}/ballots", json=good), 409, "wrong_election_kind"
        )
        assert f"/elections/{votes.poll}/votes" in detail
        vote = _vote_body(votes, me, election, [0])
        _refused(client.post(f"/elections/{election}/votes", json=vote), 409, "wrong_election_kind")

    outsider = world.merchant_a  # a registered merchant: not on a residents' list
    theirs = _ballot_body(votes, outsider, election, votes.ballot(outsider, election, [1]))
    with api.client(tokens[outsider.address]) as client:
        detail = _refused(client.post(path, json=theirs), 403, "not_eligible")
        assert outsider.address in detail

    assert city.elections.sequence_of(election, me.address) == 0
    assert city.elections.election(election).voter_count == before


def test_relay_public_poll_votes(api: ApiServer, votes: Votes, tokens: dict[str, str]) -> None:
    city, election = votes.city, votes.poll
    voter, other = votes.voters[1], votes.voters[2]
    path = f"/elections/{election}/votes"
    with api.client(tokens[voter.address]) as client:
        first = client.post(path, json=_vote_body(votes, voter, election, [1]))
        assert first.status_code == 201, first.text
        assert (first.json()["choices"], first.json()["tracking_code"]) == ([1], None)
        assert first.json()["function"] == "castVoteFor"
        assert city.elections.live_counts(election) == (0, 1, 0)
        second = _vote_body(votes, voter, election, [2])
        assert client.post(path, json=second).status_code == 201
        assert city.elections.live_counts(election) == (0, 0, 1)
        _refused(client.post(path, json=second), 409, "vote_already_cast")
        board = client.get(f"/elections/{election}/ballots").json()["items"]
        assert [(b["choices"], b["status"], b["sequence"]) for b in board] == [
            ([1], "superseded", 1),
            ([2], "live", 2),
        ]
        assert client.get(f"/elections/{election}").json()["live_counts"] == [0, 0, 1]

        _refused(
            client.post(path, json=_vote_body(votes, voter, election, [5])), 422, "invalid_choices"
        )
        _refused(
            client.post(path, json=_vote_body(votes, voter, election, [0, 0])),
            422,
            "invalid_choices",
        )
        _refused(
            client.post(path, json=_vote_body(votes, voter, election, [0, 1])),
            422,
            "invalid_selection_count",
        )
        _refused(
            client.post(path, json=_vote_body(votes, voter, election, [])),
            422,
            "invalid_selection_count",
        )
        _refused(
            client.post(path, json={**_vote_body(votes, voter, election, [0]), "choices": [32]}),
            422,
            "validation_error",
        )
        signed_one = _vote_body(votes, voter, election, [0])
        _refused(
            client.post(path, json={**signed_one, "choices": [1]}), 422, "invalid_vote_signature"
        )
        _refused(client.post(path, json=_vote_body(votes, other, election, [0])), 403, "forbidden")
        code = "0x" + "ab" * 32
        _refused(client.get(f"/elections/{election}/ballots/{code}"), 404, "ballot_not_found")
    assert city.elections.sequence_of(election, voter.address) == 2
    assert city.elections.sequence_of(election, other.address) == 0


def test_an_open_board_follows_the_chain(api: ApiServer, votes: Votes, tmp_path: Path) -> None:
    """An open vote's board is read from the chain once, then extended by the blocks since
    the last read (re-reading the newest few): read between rounds of casts that land both
    inside and far beyond that re-read window, it is always the chain's record, in order."""
    city = votes.city
    election = votes.create(
        ElectionManifest.build("Which bus line first?", "single", ["B1", "B2", "B3"], public=True)
    )
    votes.key_and_open(election, tmp_path)

    def board(client: httpx.Client) -> list[tuple[str, int, int, str]]:
        rows: list[tuple[str, int, int, str]] = []
        cursor = None
        while True:
            params = {"limit": 5, **({"cursor": cursor} if cursor else {})}
            page = client.get(f"/elections/{election}/ballots", params=params).json()
            rows += [
                (b["voter"], b["sequence"], b["block_number"], b["status"]) for b in page["items"]
            ]
            cursor = page["next_cursor"]
            if cursor is None:
                return rows

    def chain_record() -> list[tuple[str, int, int, str]]:
        casts = city.elections.votes(election)
        last = {c.voter: c.sequence for c in casts}
        return [
            (
                c.voter,
                c.sequence,
                c.block_number,
                "live" if last[c.voter] == c.sequence else "superseded",
            )
            for c in casts
        ]

    with api.client() as client:
        assert board(client) == []
        for round_ in range(4):  # 4 voters x 4 rounds: 16 blocks, twice the re-read window
            for voter in votes.voters:
                city.elections.cast_vote(
                    voter,
                    election,
                    choices_mask([(round_ + votes.voters.index(voter)) % 3]),
                    votes.eligibility.proof(voter.address),
                )
            assert board(client) == chain_record()
        final = board(client)
    assert len(final) == 16
    assert [status for *_, status in final].count("live") == 4


def test_largest_ballot_fits_the_limits(
    api: ApiServer, votes: Votes, world: World, tokens: dict[str, str]
) -> None:
    voter, election = votes.voters[2], votes.large
    ballot = votes.ballot(voter, election, list(range(0, 32, 3)))
    assert len(ballot) == ballot_size(32, 0, 32) == MAX_BALLOT_BYTES
    body = _ballot_body(votes, voter, election, ballot)
    assert (
        len(httpx.Request("POST", "http://x", json=body).content) < world.settings().max_body_bytes
    )
    with api.client(tokens[voter.address]) as client:
        answer = client.post(f"/elections/{election}/ballots", json=body)
        assert answer.status_code == 201, answer.text
        assert answer.json()["tracking_code"] == "0x" + keccak(ballot).hex()


# -- a closed vote --------------------------------------------------------------------------------


def test_closed_vote_board_and_result(api: ApiServer, votes: Votes) -> None:
    election = votes.closed
    codes = {name: "0x" + code.hex() for name, code in votes.codes.items()}
    assert votes.while_counting["status"] == 404
    assert votes.while_counting["code"] == "result_not_published"
    assert "closed and being counted" in votes.while_counting["detail"]
    with api.client() as client:
        board = client.get(f"/elections/{election}/ballots").json()["items"]
        statuses = {b["tracking_code"]: (b["status"], b["reason"]) for b in board}
        assert statuses[codes["first_old"]] == ("superseded", None)
        assert statuses[codes["first_new"]] == ("counted", None)
        assert statuses[codes["second"]] == ("counted", None)
        status, reason = statuses[codes["void"]]
        assert status == "void"
        assert reason is not None
        assert "option 0" in reason.lower()
        assert [b["sequence"] for b in board if b["voter"] == votes.voters[0].address] == [1, 2]

        void = client.get(f"/elections/{election}/ballots", params={"status": "void"}).json()
        assert [b["tracking_code"] for b in void["items"]] == [codes["void"]]
        page = client.get(f"/elections/{election}/ballots", params={"limit": 3}).json()
        rest = client.get(
            f"/elections/{election}/ballots", params={"cursor": page["next_cursor"]}
        ).json()
        assert [b["tracking_code"] for b in page["items"] + rest["items"]] == [
            b["tracking_code"] for b in board
        ]
        assert rest["next_cursor"] is None

        one = client.get(f"/elections/{election}/ballots/{codes['void']}").json()
        assert (one["status"], one["reason"]) == ("void", reason)
        assert (
            client.get(f"/elections/{election}/ballots/{codes['first_new']}").json()["status"]
            == "counted"
        )

        result = client.get(f"/elections/{election}/result")
        assert result.status_code == 200, result.text
        posted = votes.city.elections.result(election)
        assert posted is not None
        document = result.json()
        assert document["counts"] == [1, 1, 0] == list(posted.counts)
        assert document["labels"] == ["Keep", "Rename", "Vote"]
        assert (document["turnout"], document["quorum"], document["quorum_met"]) == (2, 2, True)
        assert document["tally_hash"] == "0x" + posted.tally_hash.hex()
        assert document["eligible_count"] == 4
        assert votes.city.elections.election(election).phase is ElectionPhase.TALLIED


def test_result_and_ballot_lookups_refused(api: ApiServer, votes: Votes) -> None:
    with api.client() as client:
        detail = _refused(
            client.get(f"/elections/{votes.secret}/result"), 404, "result_not_published"
        )
        assert "is open" in detail
        detail = _refused(
            client.get(f"/elections/{votes.setup}/result"), 404, "result_not_published"
        )
        assert "set up" in detail
        _refused(client.get("/elections/999/result"), 404, "election_not_found")
        unknown = "0x" + "cd" * 32
        _refused(
            client.get(f"/elections/{votes.secret}/ballots/{unknown}"), 404, "ballot_not_found"
        )
        assert client.get(f"/elections/{votes.secret}/ballots/0x1234").status_code == 422
        _refused(
            client.get(f"/elections/{votes.secret}/ballots", params={"voter": "0x12"}),
            422,
            "validation_error",
        )
        _refused(
            client.get(f"/elections/{votes.secret}/ballots", params={"status": "maybe"}),
            422,
            "validation_error",
        )


def test_files_not_published_here(
    api: ApiServer, votes: Votes, world: World, tokens: dict[str, str]
) -> None:
    election = votes.unpublished
    voter = votes.voters[0]
    with api.client(tokens[voter.address]) as client:
        detail = client.get(f"/elections/{election}").json()
        assert (detail["manifest"], detail["manifest_file"], detail["eligibility_file"]) == (
            None,
            "missing",
            "missing",
        )
        _refused(client.get(f"/elections/{election}/manifest"), 404, "file_not_published")
        _refused(client.get(f"/elections/{election}/eligibility"), 404, "file_not_published")
        _refused(
            client.get(f"/elections/{election}/eligibility/{voter.address}"),
            404,
            "file_not_published",
        )
        vote = _vote_body(votes, voter, election, [0])
        _refused(
            client.post(f"/elections/{election}/votes", json=vote), 503, "eligibility_unavailable"
        )

        # A file that is not the one on chain is never served as if it were.
        folder = votes.files.folder(election)
        folder.mkdir(parents=True)
        (folder / "manifest.json").write_bytes(b'{"version":1,"title":"Something else"}\n')
        _refused(client.get(f"/elections/{election}/manifest"), 503, "published_file_mismatch")
        assert client.get(f"/elections/{election}").json()["manifest_file"] == "mismatch"
    assert votes.city.elections.sequence_of(election, voter.address) == 0


def test_election_routes_conform_to_their_schema(
    api: ApiServer, votes: Votes, tokens: dict[str, str]
) -> None:
    """schemathesis over the election operations with elections present (the API-wide run in
    test_schema.py has none): no 5xx, every response as documented. Valid cases name the
    existing elections and the closed vote's tracking codes, so most get past the 404."""
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    headers = {"Authorization": f"Bearer {tokens[votes.voters[0].address]}"}
    # Not the vote whose stored manifest was replaced (a 503 on purpose, tested above).
    existing = st.sampled_from([i for i in range(1, votes.large + 1) if i != votes.unpublished])
    codes = st.sampled_from(["0x" + c.hex() for c in votes.codes.values()])
    findings: list[str] = []
    statuses: Counter[int] = Counter()
    operations = 0
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        for result in schema.get_all_operations():
            operation = result.ok()  # type: ignore[union-attr]
            if "/elections" not in operation.path:
                continue
            operations += 1
            cases = operation.as_strategy(mode)
            if mode is GenerationMode.POSITIVE:
                cases = st.tuples(cases, existing, codes).map(_aimed)

            @given(case=cases)
            @settings(
                max_examples=20,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=True,
                database=None,
            )
            def check(case: Any) -> None:
                response = case.call_and_validate(
                    headers=headers, checks=[not_a_server_error, response_schema_conformance]
                )
                statuses[response.status_code] += 1

            try:
                check()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE
            except Exception as exc:
                findings.append(f"{operation.label}: {exc}"[:3000])
    assert operations == 20
    assert statuses[200] > 50  # the reads were exercised on real elections
    assert not findings, "\n\n".join(findings)


def _aimed(drawn: tuple[Any, int, str]) -> Any:
    case, election_id, code = drawn
    parameters = case.path_parameters or {}
    if "election_id" in parameters:
        parameters["election_id"] = election_id
    if "tracking_code" in parameters:
        parameters["tracking_code"] = code
    return case


def test_reads_need_no_credentials(api: ApiServer, votes: Votes) -> None:
    with api.client() as client:
        for path in (
            "/elections",
            f"/elections/{votes.secret}",
            f"/elections/{votes.secret}/manifest",
            f"/elections/{votes.secret}/eligibility",
            f"/elections/{votes.secret}/eligibility/{votes.voters[0].address}",
            f"/elections/{votes.secret}/ballots",
            f"/elections/{votes.closed}/result",
        ):
            assert client.get(path).status_code == 200, path
    with api.client("not-a-token") as client:
        assert client.get(f"/elections/{votes.secret}").status_code == 200


def test_a_cast_the_contract_refuses_costs_nothing(
    world: World, files_root: Path, votes: Votes
) -> None:
    """What the checks cannot see coming (a race: the vote closed, another ballot took the
    sequence) the dry run catches in the next block's context: no transaction is sent, and the
    refusal keeps its status (409 for a closed vote, the contract's 422 otherwise)."""
    services = Services(world.settings(elections_dir=files_root))
    operator = services.service_signer.address
    nonce = votes.city.chain.w3.eth.get_transaction_count(operator, "pending")
    voter = votes.voters[3]
    proof = votes.eligibility.proof(voter.address)
    deadline = votes.deadline()
    ballot = votes.ballot(voter, votes.closed, [0])
    signature = votes.city.elections.sign_ballot(voter, votes.closed, ballot, deadline)
    with pytest.raises(ApiError) as refused:
        submit_cast(
            services,
            "castBallotFor",
            voter.address,
            votes.closed,
            ballot,
            proof,
            deadline,
            signature,
        )
    assert (refused.value.status, refused.value.code) == (409, "ElectionsWrongPhase")
    ballot = votes.ballot(voter, votes.secret, [0])
    stale = votes.city.elections.sign_ballot(voter, votes.secret, ballot, deadline, sequence=9)
    with pytest.raises(ContractRevertError) as reverted:
        submit_cast(
            services, "castBallotFor", voter.address, votes.secret, ballot, proof, deadline, stale
        )
    assert reverted.value.error == "ElectionsInvalidSignature"
    assert votes.city.chain.w3.eth.get_transaction_count(operator, "pending") == nonce
