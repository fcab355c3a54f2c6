"""The runner: ``python -m scripts.bench <workload> [options]`` runs one workload.

Every workload takes ``--quick`` (a smoke run at small sizes) and ``--json PATH`` (its figures,
its options and the machine they were measured on); ``python -m scripts.bench <workload>
--help`` says what it measures and lists its own options. The tables go to stdout, progress to
stderr. A run that loses or fails transactions exits 1: its numbers must not be trusted.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from scripts.bench._utils import BenchmarkError
from scripts.bench._utils.reporting import console, load_average, machine, notes, write_json
from scripts.bench.checks import WORKLOADS, load

PROG = "python -m scripts.bench"


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    chosen = _runner_parser().parse_args(arguments)
    workload = load(chosen.workload)
    parser = argparse.ArgumentParser(
        prog=f"{PROG} {chosen.workload}",
        description=workload.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    workload.add_arguments(parser)
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run at small sizes (a minute or two)"
    )
    parser.add_argument(
        "--json",
        dest="json_path",
        type=Path,
        help="also write the figures, the options and the machine here",
    )
    args = parser.parse_args(chosen.options)

    from ledger.logging import configure_logging

    configure_logging("warning")
    before = load_average()
    started = time.perf_counter()
    try:
        report = workload.run(args)
    except BenchmarkError as exc:
        console.print(f"[red bold]benchmark failed:[/red bold] {exc}")
        return 1
    wall = time.perf_counter() - started
    after = load_average()
    notes(
        [
            f"{chosen.workload}: load average before {_loads(before)}, after {_loads(after)} "
            f"({os.cpu_count()} cores); wall time {wall:,.0f} s"
        ]
    )
    if args.json_path is not None:
        options = {k: v for k, v in vars(args).items() if k != "json_path"}
        # A workload's own "options" (resolved defaults) replace the raw command line.
        write_json(
            args.json_path,
            {
                "workload": chosen.workload,
                "options": options,
                "machine": machine({"before": before, "after": after}),
                "wall_seconds": round(wall, 1),
                **report.document,
            },
        )
    return report.exit_code


def _runner_parser() -> argparse.ArgumentParser:
    width = max(len(name) for name in WORKLOADS)
    listing = "\n".join(f"  {name:<{width}}  {line}" for name, line in WORKLOADS.items())
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=__doc__,
        epilog=f"workloads:\n{listing}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "workload", choices=list(WORKLOADS), metavar="WORKLOAD", help="one of the workloads below"
    )
    parser.add_argument(
        "options",
        nargs=argparse.REMAINDER,
        help="the workload's options (see WORKLOAD --help)",
    )
    return parser


def _loads(values: Sequence[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)
