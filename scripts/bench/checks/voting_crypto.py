"""How fast M-voting's ballot cryptography runs (ledger.voting.crypto), next to ElectionGuard.

    python -m scripts.bench voting_crypto [--ballots 20000] [--workers 2] [--samples 200]
                                          [--batch-spec single]

1. Per ballot, in this process: milliseconds to encrypt and prove a 5-option ballot, and to
   verify one, for a single-choice election (``min = max = 1``) and an approval vote
   (``0..5``). Verification is timed twice: with a cold election key (a wallet checking one
   ballot) and with the key's fixed-base table built (as the audit does).
2. The public audit: the wall time of ``verify_ballots(..., workers=W)`` over N distinct
   5-option ballots, one voter each (the ballots are made in worker processes first; that
   time is not counted).

The reference is ElectionGuard's published figure of about 0.3 s to verify one ballot (the
figure the M-voting issue quotes); the target is 20,000 ballots in at most 60 s on 2 cores.
``--quick``: 1,000 ballots, 20 samples.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from functools import partial

from ledger.voting.crypto import (
    BallotSpec,
    ElectionContext,
    Point,
    base_mul,
    encrypt_ballot,
    parse_and_verify,
    random_scalar,
    verify_ballots,
)
from ledger.voting.crypto.group import precompute
from scripts.bench._utils import BenchmarkError
from scripts.bench._utils.district import LIFE_ZONE_RESIDENTS
from scripts.bench._utils.meters import percentile
from scripts.bench._utils.reporting import Report, print_table, step

ELECTIONGUARD_VERIFY_S = 0.3
TARGET_S = 60.0
TARGET_BALLOTS = LIFE_ZONE_RESIDENTS
CONTEXT = ElectionContext(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3", 1)
SPECS = {"single": BallotSpec(5, 1, 1), "approval": BallotSpec(5, 0, 5)}


def _voter(n: int) -> str:
    return f"0x{n + 1:040x}"


def _choices(spec: BallotSpec, n: int) -> list[int]:
    if spec.max_selections == 1:
        return [n % spec.option_count]
    return [o for o in range(spec.option_count) if (n >> o) & 1]


def _make_ballots(key: bytes, spec: BallotSpec, start: int, stop: int) -> list[tuple[str, bytes]]:
    public_key = Point.from_bytes(key)
    return [
        (
            _voter(n),
            encrypt_ballot(CONTEXT, public_key, spec, _voter(n), _choices(spec, n)).to_bytes(),
        )
        for n in range(start, stop)
    ]


def _median_ms(action: Callable[[], object], samples: int) -> float:
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    median = percentile(times, 50)
    assert median is not None
    return median * 1000


def per_ballot(key: Point, samples: int) -> list[tuple[str, float, float, float]]:
    """(name, encrypt ms, verify ms cold, verify ms with the key's table) per spec.

    Everything cold is timed before the key's table is built (tables are per process).
    """
    ballots = {
        name: encrypt_ballot(CONTEXT, key, spec, _voter(0), _choices(spec, 3)).to_bytes()
        for name, spec in SPECS.items()
    }
    cold: dict[str, tuple[float, float]] = {}
    for name, spec in SPECS.items():
        encrypt_ms = _median_ms(
            partial(encrypt_ballot, CONTEXT, key, spec, _voter(0), _choices(spec, 3)), samples
        )
        verify_ms = _median_ms(
            partial(parse_and_verify, CONTEXT, key, spec, _voter(0), ballots[name]), samples
        )
        cold[name] = (encrypt_ms, verify_ms)
    precompute(key)
    rows = []
    for name, spec in SPECS.items():
        table_ms = _median_ms(
            partial(parse_and_verify, CONTEXT, key, spec, _voter(0), ballots[name]), samples
        )
        label = f"{name} ({spec.min_selections}..{spec.max_selections})"
        rows.append((label, *cold[name], table_ms))
    return rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--ballots", type=int, help=f"ballots the audit verifies ({TARGET_BALLOTS:,}; quick 1,000)"
    )
    parser.add_argument("--workers", type=int, default=2, help="verifying processes (2)")
    parser.add_argument("--samples", type=int, help="timings per single figure (200; quick 20)")
    parser.add_argument("--batch-spec", choices=sorted(SPECS), default="single")


def run(args: argparse.Namespace) -> Report:
    ballots_wanted = args.ballots or (1_000 if args.quick else TARGET_BALLOTS)
    samples = args.samples or (20 if args.quick else 200)
    workers = max(1, args.workers)
    key = base_mul(random_scalar())
    step(f"timing one ballot at a time ({samples} samples a figure)")
    rows = per_ballot(key, samples)
    print_table(
        f"5-option ballots, one process (median of {samples})",
        (
            "election",
            "encrypt+prove ms",
            "verify ms (cold key)",
            "verify ms (key table)",
            "x faster than EG 0.3 s",
        ),
        [
            (
                name,
                f"{encrypt_ms:.2f}",
                f"{verify_ms:.2f}",
                f"{table_ms:.2f}",
                f"{ELECTIONGUARD_VERIFY_S * 1000 / table_ms:,.0f}",
            )
            for name, encrypt_ms, verify_ms, table_ms in rows
        ],
    )

    spec = SPECS[args.batch_spec]
    step(f"making {ballots_wanted:,} {args.batch_spec} ballots")
    started = time.perf_counter()
    step_size = -(-ballots_wanted // (4 * workers))
    with ProcessPoolExecutor(max_workers=workers) as pool:
        parts = pool.map(
            _make_ballots,
            *zip(
                *[
                    (key.to_bytes(), spec, a, min(a + step_size, ballots_wanted))
                    for a in range(0, ballots_wanted, step_size)
                ],
                strict=True,
            ),
        )
        ballots = [ballot for part in parts for ballot in part]
    step(f"made in {time.perf_counter() - started:.1f} s; verifying")

    started = time.perf_counter()
    verdicts = verify_ballots(CONTEXT, key, spec, ballots, workers=workers)
    wall = time.perf_counter() - started
    if any(verdict is not None for verdict in verdicts):
        raise BenchmarkError(f"an honest ballot failed: {next(v for v in verdicts if v)}")
    scaled = wall * TARGET_BALLOTS / ballots_wanted
    eg_seconds = ELECTIONGUARD_VERIFY_S * ballots_wanted
    print_table(
        f"public audit: verify_ballots, workers={workers}, {os.cpu_count()} CPUs",
        (
            "ballots",
            "wall s",
            "ms / ballot",
            f"s for {TARGET_BALLOTS:,} (target {TARGET_S:.0f})",
            "EG 0.3 s/ballot: s",
            "ratio",
        ),
        [
            (
                f"{ballots_wanted:,}",
                f"{wall:.1f}",
                f"{wall / ballots_wanted * 1000:.2f}",
                f"{scaled:.1f}",
                f"{eg_seconds:,.0f}",
                f"{eg_seconds / wall:,.0f}x",
            )
        ],
    )
    return Report(
        {
            "per_ballot_ms": [
                {"election": name, "encrypt": e, "verify_cold": v, "verify_table": t}
                for name, e, v, t in rows
            ],
            "audit": {"ballots": ballots_wanted, "workers": workers, "wall_s": wall},
        }
    )
