"""The dependency rule of docs/architecture.md is enforced, not only written down: the import
contracts in pyproject.toml hold for the tree, and the linter really fails when a layer is
crossed (checked in a scratch copy, so the tree itself is never touched)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("cityledger", "api", "wallet_cli", "ledger", "tests", "scripts")
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint(where: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=where,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The packages and pyproject.toml in a throw-away folder."""
    copy = tmp_path_factory.mktemp("tree")
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__", "*.json")
        )
    shutil.copy(ROOT / "pyproject.toml", copy)
    return copy


def test_the_tree_keeps_every_contract() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "added", "contract"),
    [
        ("ledger/config.py", "import api.keys", "one-way flow"),
        ("ledger/chain.py", "from wallet_cli import output", "one-way flow"),
        ("api/main.py", "import wallet_cli.main", "one-way flow"),
        ("ledger/indexer/runner.py", "import ledger.node.store", "imported only by what starts"),
        ("api/deps.py", "from ledger.node import config", "imported only by what starts"),
        ("ledger/city.py", "import tests.conftest", "imports no front end, test"),
        ("api/keys.py", "import scripts.bench.run", "imports no front end, test or script"),
        ("scripts/bench/run.py", "import tests.conftest", "scripts import no tests"),
        ("scripts/bench/checks/token.py", "import ledger.node.store", "imported only by what"),
    ],
)
def test_a_crossed_layer_fails_the_linter(
    scratch: Path, module: str, added: str, contract: str
) -> None:
    target = scratch / module
    original = target.read_text()
    assert _lint(scratch).returncode == 0  # the copy starts clean
    try:
        target.write_text(original + f"\n{added}  # crossing a layer on purpose\n")
        result = _lint(scratch)
    finally:
        target.write_text(original)
    assert result.returncode != 0
    broken = [line for line in result.stdout.splitlines() if line.endswith("BROKEN")]
    assert any(contract in line for line in broken), result.stdout
