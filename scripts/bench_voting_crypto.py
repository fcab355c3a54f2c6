"""How fast M-voting's ballot cryptography runs (ledger.voting.crypto), next to ElectionGuard.

    .venv/bin/python scripts/bench_voting_crypto.py [--ballots 20000] [--workers 2]
                                                    [--samples 200] [--batch-spec single]

1. Per ballot, in this process: milliseconds to encrypt and prove a 5-option ballot, and to
   verify one, for a single-choice election (``min = max = 1``) and an approval vote
   (``0..5``). Verification is timed twice: with a cold election key (a wallet checking one
   ballot) and with the key's fixed-base table built (as the audit does).
2. The public audit: the wall time of ``verify_ballots(..., workers=W)`` over N distinct
   5-option ballots, one voter each (the ballots are made in worker processes first; that
   time is not counted).

The reference is ElectionGuard's published figure of about 0.3 s to verify one ballot (the
figure the M-voting issue quotes); the target is 20,000 ballots in at most 60 s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.table import Table

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

ELECTIONGUARD_VERIFY_S = 0.3
TARGET_S = 60.0
TARGET_BALLOTS = 20_000
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
    return statistics.median(times) * 1000


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ballots", type=int, default=TARGET_BALLOTS)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--samples", type=int, default=200, help="timings per single figure")
    parser.add_argument("--batch-spec", choices=sorted(SPECS), default="single")
    args = parser.parse_args()
    console = Console(width=130)

    key = base_mul(random_scalar())
    rows = per_ballot(key, args.samples)
    table = Table(title=f"5-option ballots, one process (median of {args.samples})")
    table.add_column("election")
    table.add_column("encrypt+prove ms", justify="right")
    table.add_column("verify ms (cold key)", justify="right")
    table.add_column("verify ms (key table)", justify="right")
    table.add_column("x faster than EG 0.3 s", justify="right")
    for name, encrypt_ms, verify_ms, table_ms in rows:
        table.add_row(
            name,
            f"{encrypt_ms:.2f}",
            f"{verify_ms:.2f}",
            f"{table_ms:.2f}",
            f"{ELECTIONGUARD_VERIFY_S * 1000 / table_ms:,.0f}",
        )
    console.print(table)

    spec = SPECS[args.batch_spec]
    console.print(f"making {args.ballots:,} {args.batch_spec} ballots ...")
    started = time.perf_counter()
    step = -(-args.ballots // (4 * max(1, args.workers)))
    with ProcessPoolExecutor(max_workers=max(1, args.workers)) as pool:
        parts = pool.map(
            _make_ballots,
            *zip(
                *[
                    (key.to_bytes(), spec, a, min(a + step, args.ballots))
                    for a in range(0, args.ballots, step)
                ],
                strict=True,
            ),
        )
        ballots = [ballot for part in parts for ballot in part]
    console.print(f"made in {time.perf_counter() - started:.1f} s")

    started = time.perf_counter()
    verdicts = verify_ballots(CONTEXT, key, spec, ballots, workers=args.workers)
    wall = time.perf_counter() - started
    if any(verdict is not None for verdict in verdicts):
        raise SystemExit(f"an honest ballot failed: {next(v for v in verdicts if v)}")
    scaled = wall * TARGET_BALLOTS / args.ballots
    audit = Table(
        title=f"public audit: verify_ballots, workers={args.workers}, {os.cpu_count()} CPUs"
    )
    audit.add_column("ballots", justify="right")
    audit.add_column("wall s", justify="right")
    audit.add_column("ms / ballot", justify="right")
    audit.add_column(f"s for {TARGET_BALLOTS:,} (target {TARGET_S:.0f})", justify="right")
    audit.add_column("EG 0.3 s/ballot: s", justify="right")
    audit.add_column("ratio", justify="right")
    eg_seconds = ELECTIONGUARD_VERIFY_S * args.ballots
    audit.add_row(
        f"{args.ballots:,}",
        f"{wall:.1f}",
        f"{wall / args.ballots * 1000:.2f}",
        f"{scaled:.1f}",
        f"{eg_seconds:,.0f}",
        f"{eg_seconds / wall:,.0f}x",
    )
    console.print(audit)


if __name__ == "__main__":
    main()
