"""Compile the Solidity sources into the committed JSON artifacts, or check that they are current.

The artifacts are committed so that Python code and tests need no compiler at run time (as
web3.py does with its test contracts); this script is the only way they are made, and
``--check`` (run by the test suite) fails when a source changed without recompiling.

Usage::

    python scripts/compile_contracts.py            # rewrite the artifact directories
    python scripts/compile_contracts.py --check    # exit 1 if any artifact is stale

The compiler is the pinned solc-js in ``contracts/node_modules`` (``cd contracts && npm ci``),
driven by ``contracts/scripts/compile.mjs``, whose fixed settings make the output reproducible.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONTRACTS = ROOT / "contracts"
NODE_MODULES = CONTRACTS / "node_modules"
COMPILE_SCRIPT = CONTRACTS / "scripts" / "compile.mjs"


@dataclass(frozen=True)
class Target:
    """One source tree and the directory that holds its committed artifacts."""

    sources: Path
    artifacts: Path


TARGETS = (
    # Production contracts, shipped inside the ``ledger`` package.
    Target(CONTRACTS / "src", ROOT / "ledger" / "contracts" / "artifacts"),
    # Contracts that exist only to test chains and tools.
    Target(CONTRACTS / "test", ROOT / "tests" / "fixtures" / "contracts"),
)


class CompileError(Exception):
    """The toolchain is missing or the compiler refused the sources."""


def has_sources(directory: Path) -> bool:
    """Whether ``directory`` holds any Solidity file (an empty or missing tree is valid)."""
    return directory.is_dir() and any(directory.rglob("*.sol"))


def compile_into(target: Target, out: Path, build_info: Path | None = None) -> None:
    """Compile ``target.sources`` into ``out`` (which must exist), one JSON file per contract."""
    if not has_sources(target.sources):
        return
    node = shutil.which("node")
    if node is None:
        raise CompileError("node is not on PATH: install Node.js 20 or newer")
    if not (NODE_MODULES / "solc").is_dir():
        raise CompileError(f"{NODE_MODULES} is missing or incomplete; run: cd contracts && npm ci")
    command = [node, str(COMPILE_SCRIPT), "--out", str(out)]
    if build_info is not None:
        command += ["--build-info", str(build_info)]
    command.append(str(target.sources))
    result = subprocess.run(command, cwd=CONTRACTS, check=False)
    if result.returncode != 0:
        raise CompileError(f"compiling {target.sources.relative_to(ROOT)} failed (see above)")


def json_files(directory: Path) -> dict[str, bytes]:
    """The ``*.json`` files directly in ``directory`` by name, with their bytes."""
    if not directory.is_dir():
        return {}
    return {path.name: path.read_bytes() for path in sorted(directory.glob("*.json"))}


def differences(expected: dict[str, bytes], committed: dict[str, bytes]) -> list[tuple[str, str]]:
    """``(problem, name)`` per artifact that differs, is missing or is extra in ``committed``."""
    found = []
    for name in sorted(expected.keys() | committed.keys()):
        if name not in committed:
            found.append(("missing", name))
        elif name not in expected:
            found.append(("extra", name))
        elif expected[name] != committed[name]:
            found.append(("differs", name))
    return found


def sync(fresh: Path, committed: Path) -> None:
    """Make ``committed`` hold exactly the artifacts in ``fresh``, removing stale ones."""
    new = json_files(fresh)
    for name in json_files(committed).keys() - new.keys():
        (committed / name).unlink()
    if new:
        committed.mkdir(parents=True, exist_ok=True)
    for name, data in new.items():
        target = committed / name
        if not target.exists() or target.read_bytes() != data:
            target.write_bytes(data)


def run(*, check: bool, build_info: Path | None) -> int:
    """Compile every target; return the process exit status."""
    stale: list[str] = []
    with tempfile.TemporaryDirectory(prefix="cityledger-contracts-") as tmp:
        for index, target in enumerate(TARGETS):
            out = Path(tmp) / str(index)
            out.mkdir()
            compile_into(target, out, build_info)
            where = target.artifacts.relative_to(ROOT)
            if check:
                stale += [
                    f"{problem + ':':<9}{where}/{name}"
                    for problem, name in differences(json_files(out), json_files(target.artifacts))
                ]
            else:
                sync(out, target.artifacts)
                print(f"{where}: {len(json_files(out))} artifact(s)")
    if stale:
        print("contract artifacts are out of date:", file=sys.stderr)
        for line in stale:
            print(f"  {line}", file=sys.stderr)
        print("run: python scripts/compile_contracts.py", file=sys.stderr)
        return 1
    if check:
        print("contract artifacts are up to date")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--check",
        action="store_true",
        help="compile into a temporary directory and fail if the committed artifacts differ",
    )
    parser.add_argument(
        "--build-info",
        type=Path,
        metavar="DIR",
        help="also write Hardhat build-info files (for Slither) into DIR (default: none)",
    )
    args = parser.parse_args(argv)
    build_info = args.build_info.resolve() if args.build_info is not None else None
    try:
        return run(check=args.check, build_info=build_info)
    except CompileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
