"""Kill -9 a streaming node many times and check every served receipt survives.

The test suite runs 20 kills (tests/node/test_durability.py); this runs as many as you like:

    .venv/bin/python scripts/crash_drill.py --kills 100     # or: python -m scripts.crash_drill
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from cityledger.testing.crash import run_crash_drill


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=100, help="how many kill -9 cycles (100)")
    parser.add_argument("--seed", type=int, default=7, help="seed for the kill timing (7)")
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="crash-drill-") as workdir:
        report = run_crash_drill(Path(workdir), args.kills, seed=args.seed)
    elapsed = time.monotonic() - started
    print(
        f"kills={report.kills} receipts checked={report.confirmed} lost={len(report.lost)} "
        f"changed={len(report.changed)} final head={report.head} in {elapsed:.0f} s"
    )
    return 1 if report.lost or report.changed else 0


if __name__ == "__main__":
    raise SystemExit(main())
