"""Slither static analysis of contracts/src: no High or Medium finding outside the triage file.

Slither has no native solc here (solc's binary downloaders cannot reach their servers), so the
sources are compiled with the pinned solc-js into a Hardhat build-info file in a temporary
folder that also holds an empty
``hardhat.config.js`` and links to ``contracts/src`` and ``contracts/node_modules``; Slither then
reads that folder with the committed config ``contracts/slither/slither.config.json``.

Every accepted finding is in ``contracts/slither/triage.json``, matched on check + contract +
function, with the reason it is accepted. The same run by hand::

    python scripts/compile_contracts.py --build-info /tmp/sl/artifacts/build-info
    # keep only the build-info whose sources are under src/, then:
    cd /tmp/sl && ln -s /work/main/contracts/node_modules /work/main/contracts/src . \\
        && touch hardhat.config.js \\
        && slither . --config-file /work/main/contracts/slither/slither.config.json
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = ROOT / "contracts"
SLITHER_DIR = CONTRACTS / "slither"
CONFIG = SLITHER_DIR / "slither.config.json"
TRIAGE = SLITHER_DIR / "triage.json"
BLOCKING_IMPACTS = frozenset({"High", "Medium"})


@dataclass(frozen=True)
class Finding:
    """One Slither result, reduced to what the triage file matches on."""

    check: str
    impact: str
    contract: str
    function: str
    description: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.check, self.contract, self.function)


def _compile_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "compile_contracts", ROOT / "scripts" / "compile_contracts.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Registered before running it: its dataclasses look their module up in sys.modules.
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


def _locate(element: dict[str, Any]) -> tuple[str, str]:
    """``(contract, function)`` of a Slither result element (function "" when contract-level)."""
    kind = element.get("type")
    parent = element.get("type_specific_fields", {}).get("parent", {})
    if kind == "function":
        return parent.get("name", ""), element["name"]
    if kind == "contract":
        return element["name"], ""
    if parent.get("type") == "function":
        # A node, variable or event inside a function: report the function that holds it.
        return _locate(parent)
    if parent.get("type") == "contract":
        return parent["name"], ""
    return "", ""


def _findings(report: dict[str, Any]) -> list[Finding]:
    found = []
    for result in report.get("results", {}).get("detectors", []):
        elements = result.get("elements") or [{}]
        contract, function = _locate(elements[0])
        found.append(
            Finding(
                check=result["check"],
                impact=result["impact"],
                contract=contract,
                function=function,
                description=result.get("description", "").strip(),
            )
        )
    return found


@pytest.fixture(scope="module")
def slither_findings(tmp_path_factory: pytest.TempPathFactory) -> list[Finding]:
    """Compile contracts/src to build-info and run Slither on it once for this module."""
    work = tmp_path_factory.mktemp("slither")
    compile_script = _compile_script()
    production = compile_script.TARGETS[0]
    assert production.sources == CONTRACTS / "src"
    out = work / "out"
    out.mkdir()
    compile_script.compile_into(production, out, work / "artifacts" / "build-info")
    (work / "hardhat.config.js").write_text("module.exports = {};\n", encoding="utf-8")
    (work / "node_modules").symlink_to(CONTRACTS / "node_modules", target_is_directory=True)
    (work / "src").symlink_to(CONTRACTS / "src", target_is_directory=True)

    result = subprocess.run(
        [sys.executable, "-m", "slither", ".", "--config-file", str(CONFIG), "--json", "-"],
        cwd=work,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    try:
        report = json.loads(result.stdout)
    except ValueError:
        pytest.fail(f"slither printed no JSON (exit {result.returncode}):\n{result.stderr[-4000:]}")
    assert report.get("success"), report.get("error") or result.stderr[-4000:]
    return _findings(report)


def _triage() -> dict[tuple[str, str, str], dict[str, Any]]:
    entries = json.loads(TRIAGE.read_text(encoding="utf-8"))["findings"]
    triaged = {}
    for entry in entries:
        assert entry.get("reason", "").strip(), f"triage entry without a reason: {entry}"
        key = (entry["check"], entry["contract"], entry["function"])
        assert key not in triaged, f"duplicate triage entry: {key}"
        triaged[key] = entry
    return triaged


def test_no_untriaged_high_or_medium_findings(slither_findings: list[Finding]) -> None:
    triaged = _triage()
    untriaged = [
        finding
        for finding in slither_findings
        if finding.impact in BLOCKING_IMPACTS and finding.key not in triaged
    ]
    assert not untriaged, (
        "untriaged Slither findings (fix them or add them to "
        + str(TRIAGE.relative_to(ROOT))
        + "):\n"
        + "\n".join(
            f"- [{f.impact}] {f.check} {f.contract}.{f.function}: {f.description}"
            for f in untriaged
        )
    )


def test_triage_has_no_stale_entries(slither_findings: list[Finding]) -> None:
    # Also guards against a run that silently analysed nothing: the triaged findings would vanish.
    reported = {finding.key for finding in slither_findings}
    stale = [key for key in _triage() if key not in reported]
    assert not stale, f"triage entries Slither no longer reports (remove them): {stale}"
