"""M-voting at city scale: ballots cast per second and the full public audit, measured.

    python -m scripts.bench voting [--ballots 20000] [--anvil-ballots 2000]

1. Starts an embedded node (block period 0.05 s) whose allowlist holds every voter, and anvil
   as the reference client; deploys the city on both.
2. On each chain: one secret vote, 5 options (choose one), 3 trustees with threshold 2, the
   voters as its eligibility list; the key ceremony; ballots encrypted and proved in a process
   pool (ms per ballot), then cast by the voters' own pre-signed transactions in JSON-RPC
   batches: ballots per second, embedded node next to anvil.
3. On the embedded node: the vote closes, trustees 1 and 3 decrypt, the result is published,
   and the full audit runs as `cityledger election audit` does (read every event from the
   chain, check every proof on 2 processes, re-tally, check the shares, compare): seconds for
   N ballots, against the target of 60 s for 20,000 (the Sejong 5-1 population) and against
   ElectionGuard's published ~0.3 s per ballot verification.

``--quick``: 200 ballots on the embedded node, 100 on anvil (the wait for the close, about a
minute, is most of it).
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from eth_account.signers.local import LocalAccount

from cityledger.testing.accounts import CHAIN_ID, make_accounts, write_genesis
from cityledger.testing.processes import ANVIL, AnvilProcess, NodeProcess, free_port, rpc
from cityledger.testing.voting import run_ceremony, send_signed
from ledger.chain import Chain
from ledger.city import City
from ledger.deploy import DeployPlan, deploy_city
from ledger.roles import Role
from ledger.types import AccountKind
from ledger.voting import lifecycle
from ledger.voting.audit import audit_election
from ledger.voting.crypto import BallotSpec, ElectionContext, Point, encrypt_ballot
from ledger.voting.eligibility import EligibilityList
from ledger.voting.files import ElectionFiles
from ledger.voting.manifest import ElectionManifest
from ledger.voting.record import read_record, spec_of
from ledger.voting.vault import TrusteeVault
from scripts.bench._utils import BenchmarkError
from scripts.bench._utils.district import LIFE_ZONE_RESIDENTS
from scripts.bench._utils.reporting import Report, print_table, step

ELECTIONGUARD_VERIFY_S = 0.3
TARGET_S, TARGET_BALLOTS = 60.0, LIFE_ZONE_RESIDENTS
OPTIONS = 5
STAFF = 3  # deployer, admin, election admin
TRUSTEES = 3
PASSWORD = "bench"


def _encrypt(job: tuple[ElectionContext, bytes, BallotSpec, str, int]) -> bytes:
    context, key, spec, voter, choice = job
    return encrypt_ballot(context, Point.from_bytes(key), spec, voter, [choice]).to_bytes()


@dataclass
class Cast:
    chain: str
    ballots: int
    encrypt_s: float
    cast_s: float
    blocks: int


def run_vote(
    city: City,
    staff: Sequence[LocalAccount],
    trustees: Sequence[LocalAccount],
    voters: Sequence[LocalAccount],
    work: Path,
    window: int,
    label: str,
) -> tuple[int, EligibilityList, Cast]:
    _deployer, _admin, election_admin = staff
    eligibility = EligibilityList(
        chain_id=city.chain.chain_id,
        registry=city.registry.address,
        snapshot_block=city.chain.block_number(),
        kinds=(AccountKind.RESIDENT,),
        districts=(),
        accounts=tuple(v.address for v in voters),
    )
    manifest = ElectionManifest.build(
        "Which project first?", "single", [f"Project {i + 1}" for i in range(OPTIONS)]
    )
    election_id = lifecycle.create_election(
        city,
        election_admin,
        manifest,
        eligibility,
        opens_at=city.chain.latest_timestamp(),
        closes_at=city.chain.latest_timestamp() + window,
        trustees=[t.address for t in trustees],
        threshold=2,
        files=ElectionFiles(work / "elections", city.chain.chain_id),
    )
    run_ceremony(city, trustees, work / "trustees", PASSWORD, election_id)
    lifecycle.open_election(city, election_admin, election_id)
    state = city.elections.election(election_id)
    context = lifecycle.context_of(city, election_id)
    spec = spec_of(state.config)
    key = lifecycle.public_key_of(state).to_bytes()
    rng = random.Random(5101)
    choices = [rng.randrange(OPTIONS) for _ in voters]
    started = time.perf_counter()
    jobs = [(context, key, spec, v.address, c) for v, c in zip(voters, choices, strict=True)]
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("forkserver")) as pool:
        ballots = list(pool.map(_encrypt, jobs, chunksize=200))
    encrypt_s = time.perf_counter() - started
    calls = [
        (
            v,
            city.elections.contract.functions.castBallot(
                election_id, b, eligibility.proof(v.address)
            ),
        )
        for v, b in zip(voters, ballots, strict=True)
    ]
    started = time.perf_counter()
    blocks = send_signed(city, calls)
    cast_s = time.perf_counter() - started
    return election_id, eligibility, Cast(label, len(voters), encrypt_s, cast_s, blocks)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ballots", type=int, help=f"ballots on the embedded node ({TARGET_BALLOTS:,}; quick 200)"
    )
    parser.add_argument("--anvil-ballots", type=int, help="ballots on anvil (2,000; quick 100)")


def run(args: argparse.Namespace) -> Report:
    ballots = args.ballots or (200 if args.quick else TARGET_BALLOTS)
    anvil_ballots = args.anvil_ballots or (100 if args.quick else 2_000)
    with tempfile.TemporaryDirectory(prefix="bench-voting-") as folder:
        work = Path(folder)
        staff = make_accounts(STAFF, "bench-voting-staff")
        trustees = make_accounts(TRUSTEES, "bench-voting-trustee")
        voters = make_accounts(ballots, "bench-voting-voter")
        step(f"genesis with {len(voters):,} allowlisted voters")
        write_genesis(
            work / "genesis.json", [*staff, *trustees], allowlisted=[*staff, *trustees, *voters]
        )
        node = NodeProcess(
            work / "genesis.json", work / "node", free_port(), ("--block-period", "0.05")
        )
        node.start()
        anvil = AnvilProcess(free_port(), CHAIN_ID).start() if ANVIL.exists() else None
        try:
            rows: list[Cast] = []
            cities = {"embedded": node.url}
            if anvil is not None:
                for account in (*staff, *trustees, *voters[:anvil_ballots]):
                    rpc(anvil.url, "anvil_setBalance", account.address, hex(10**20))
                cities["anvil"] = anvil.url
            elections: dict[str, tuple[City, int, EligibilityList]] = {}
            for label, url in cities.items():
                chain = Chain(url)
                plan = DeployPlan(
                    network=label,
                    admin=staff[1].address,
                    grants={Role.ELECTION_ADMIN: [(staff[2].address, 0)]},
                )
                city = City.at(chain, deploy_city(chain, staff[0], plan, work / f"{label}.json"))
                count = ballots if label == "embedded" else anvil_ballots
                window = 60 + count // 25  # room for casting at 25 ballots/s (measured 35-60)
                step(f"{label}: a vote of {count:,} ballots (window {window} s)")
                election_id, eligibility, cast = run_vote(
                    city, staff, trustees, voters[:count], work / label, window, label
                )
                rows.append(cast)
                elections[label] = (city, election_id, eligibility)
            city, election_id, eligibility = elections["embedded"]
            closes = city.elections.election(election_id).config.closes_at
            step("waiting for the close")
            while max(city.chain.latest_timestamp() + 1, int(time.time())) < closes:
                time.sleep(1)
            lifecycle.close_election(city, staff[2], election_id)
            for trustee in (trustees[0], trustees[2]):
                vault = TrusteeVault(
                    work / "embedded" / "trustees",
                    lifecycle.context_of(city, election_id),
                    trustee.address,
                    scrypt_n=2**4,
                )
                lifecycle.trustee_decrypt(city, trustee, vault, PASSWORD, election_id, eligibility)
            lifecycle.publish_result(city, staff[2], election_id, eligibility)
            step("the public audit")
            started = time.perf_counter()
            record = read_record(city.elections, election_id, city.rewards)
            read_s = time.perf_counter() - started
            report = audit_election(record, eligibility, eligibility.to_json(), workers=2)
            audit_s = time.perf_counter() - started
            if not report.ok:
                raise BenchmarkError(f"the audit failed: {report.failures}")
        finally:
            node.stop()
            if anvil is not None:
                anvil.stop()
    _print(rows, ballots, read_s, audit_s)
    return Report(
        {
            "casting": [asdict(row) for row in rows],
            "audit": {"ballots": ballots, "read_chain_s": read_s, "total_s": audit_s},
        }
    )


def _print(rows: list[Cast], ballots: int, read_s: float, audit_s: float) -> None:
    anvil = next((r for r in rows if r.chain == "anvil"), None)
    table = []
    for row in rows:
        rate = row.ballots / row.cast_s
        ratio = "" if anvil is None else f"{rate / (anvil.ballots / anvil.cast_s):.2f}"
        table.append(
            (
                row.chain,
                f"{row.ballots:,}",
                f"{row.encrypt_s * 1000 / row.ballots:.2f}",
                f"{rate:,.0f}",
                str(row.blocks),
                ratio,
            )
        )
    print_table(
        "casting: encrypted 5-option ballots, pre-signed, JSON-RPC batches of 100",
        (
            "chain",
            "ballots",
            "encrypt+prove ms/ballot (2 procs)",
            "cast ballots/s",
            "blocks",
            "x anvil",
        ),
        table,
    )
    per_ballot = audit_s / ballots
    print_table(
        "public audit of the embedded node's vote (2 processes)",
        (
            "ballots",
            "read chain s",
            "total s",
            "ms/ballot",
            f"s for {TARGET_BALLOTS:,}",
            "target s",
            "x ElectionGuard",
        ),
        [
            (
                f"{ballots:,}",
                f"{read_s:.1f}",
                f"{audit_s:.1f}",
                f"{per_ballot * 1000:.2f}",
                f"{per_ballot * TARGET_BALLOTS:.1f}",
                f"{TARGET_S:.0f}",
                f"{ELECTIONGUARD_VERIFY_S / per_ballot:.0f}",
            )
        ],
    )
