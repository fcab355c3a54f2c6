"""How long whole commands take, from process start to exit, as a shell user runs them.

    python -m scripts.bench startup [--runs 10] [--warmup 1]

Short commands are mostly Python start-up and imports, so they are timed as whole processes
(the installed console scripts, each run in a new process, output captured), not in process:

* ``cityledger --help`` and ``wallet --help``: target ≤ 0.5 s;
* ``wallet balance resident``: a read against a running embedded node with the city deployed
  and ``resident`` a registered, funded resident in the wallet's keystore (the node, the
  city and the keystore are set up first, untimed; the wallet finds them through its
  ``CITYLEDGER_*`` environment variables); target ≤ 1 s;
* ``python -c pass``: the interpreter alone, the floor under every command (no target).

Each command runs ``--warmup`` times untimed (the page cache, .pyc files), then ``--runs`` times
timed, one after another; the table gives the median and the 90th percentile. A command that
fails (or a balance that does not show the resident's funds) fails the run. ``--quick``: 3 runs.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from cityledger.testing.token_flood import fund_residents
from ledger.keys import KeyStore
from scripts.bench._utils import BenchmarkError
from scripts.bench._utils.chain_plumbing import city_on_node
from scripts.bench._utils.meters import percentile, time_command
from scripts.bench._utils.reporting import Report, notes, print_table, step

HELP_TARGET_S = 0.5
READ_TARGET_S = 1.0
ALIAS = "resident"
FUNDS = 100_000
PASSWORD = "startup-bench"
FAST_SCRYPT = 2**4


@dataclass(frozen=True)
class Timing:
    command: str
    runs: int
    median_s: float
    p90_s: float
    min_s: float
    target_s: float | None

    @property
    def verdict(self) -> str:
        if self.target_s is None:
            return ""
        return "ok" if self.median_s <= self.target_s else "SLOWER"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, help="timed runs of each command (10; quick 3)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs first (1)")


def run(args: argparse.Namespace) -> Report:
    runs = args.runs or (3 if args.quick else 10)
    warmup = max(0, args.warmup)
    timings = []
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as work:
        root = Path(work)

        def timed(command: list[str], target: float | None, env: dict[str, str]) -> None:
            shown = " ".join([Path(command[0]).name, *command[1:]])
            step(f"{shown}: {warmup} untimed, then {runs} timed")
            seconds = time_command(command, runs=runs, warmup=warmup, env=env, cwd=root)
            timings.append(_timing(shown, seconds, target))

        timed([sys.executable, "-c", "pass"], None, {})
        timed([_script("cityledger"), "--help"], HELP_TARGET_S, {})
        timed([_script("wallet"), "--help"], HELP_TARGET_S, {})
        with city_on_node(root, "bench-startup", 1, ("--block-period", "0.05")) as (_, city):
            resident = city.people[0]
            fund_residents(city, [resident], FUNDS, "STARTUP")
            keys = KeyStore(root / "wallet")
            keys.import_private_key(ALIAS, resident.key.hex(), PASSWORD, scrypt_n=FAST_SCRYPT)
            env = {
                "CITYLEDGER_RPC_URL": city.url,
                "CITYLEDGER_KEYSTORE_DIR": str(root / "wallet"),
                "CITYLEDGER_NETWORK": city.manifest_path.stem,
                "CITYLEDGER_DEPLOYMENTS_DIR": str(city.manifest_path.parent),
            }
            balance = [_script("wallet"), "balance", ALIAS]
            _check_balance(balance, env, root)
            timed(balance, READ_TARGET_S, env)
    _print(timings, runs, warmup)
    return Report({"runs": runs, "warmup": warmup, "timings": [asdict(t) for t in timings]})


def _script(name: str) -> str:
    """The console script the project installs beside this interpreter."""
    path = Path(sys.executable).parent / name
    if not path.exists():
        raise BenchmarkError(f"{path} is missing: `make .venv/.installed` installs it")
    return str(path)


def _check_balance(command: list[str], env: dict[str, str], cwd: Path) -> None:
    """The read must really read: the resident's funds appear in its output."""
    done = subprocess.run(
        command,
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0 or f"{FUNDS:,}" not in done.stdout:
        raise BenchmarkError(
            f"`wallet balance {ALIAS}` did not show the resident's {FUNDS:,}: "
            f"{(done.stdout + done.stderr).strip()[-800:]}"
        )


def _timing(command: str, seconds: list[float], target: float | None) -> Timing:
    median, p90 = percentile(seconds, 50), percentile(seconds, 90)
    assert median is not None
    assert p90 is not None
    return Timing(command, len(seconds), median, p90, min(seconds), target)


def _print(timings: list[Timing], runs: int, warmup: int) -> None:
    print_table(
        f"Commands from start to exit ({runs} runs each after {warmup} untimed)",
        ("command", "runs", "median s", "p90 s", "min s", "target s", "verdict"),
        [
            (
                t.command,
                str(t.runs),
                f"{t.median_s:.2f}",
                f"{t.p90_s:.2f}",
                f"{t.min_s:.2f}",
                f"≤ {t.target_s:.1f}" if t.target_s is not None else "",
                t.verdict,
            )
            for t in timings
        ],
    )
    notes(
        [
            "each run is a new process of the installed console script (python -c pass: the "
            "interpreter alone); the verdict compares the median with the target",
            "wallet balance: one JSON-RPC session to the embedded node (balance and "
            "registration), the wallet configured through CITYLEDGER_* variables",
        ]
    )
