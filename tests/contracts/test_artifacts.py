"""The committed contract artifacts: current with their sources and loadable.

Deploying and calling them on real nodes (the embedded node and anvil) is tests/node/test_compat.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ledger.contracts import ArtifactNotFoundError, load_artifact

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "contracts"
SHA256_HEX_LENGTH = 64


@pytest.mark.skipif(
    not (ROOT / "contracts" / "node_modules" / "solc").is_dir(),
    reason="contracts/node_modules is missing (run: cd contracts && npm ci)",
)
def test_committed_artifacts_match_sources() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "compile_contracts.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", ["BenchToken", "Factory", "Probe"])
def test_fixtures_load_with_code(name: str) -> None:
    artifact = load_artifact(name, FIXTURES)
    assert artifact.name == name
    assert artifact.bytecode
    assert artifact.deployed_bytecode
    assert len(artifact.source_hash) == SHA256_HEX_LENGTH


def test_probe_abi_names_what_the_tests_use() -> None:
    abi = load_artifact("Probe", FIXTURES).abi
    assert {entry.get("name") for entry in abi} >= {"increment", "Incremented", "ProbeTooLarge"}


def test_unknown_artifact_raises() -> None:
    with pytest.raises(ArtifactNotFoundError, match="NoSuchContract"):
        load_artifact("NoSuchContract", FIXTURES)
    with pytest.raises(LookupError):
        load_artifact("NoSuchContract")
