"""Load compiled contract artifacts (ABI and bytecode) from the committed JSON files.

The JSON files are written by ``scripts/compile_contracts.py`` from ``contracts/src`` into
``ledger/contracts/artifacts/`` (and from ``contracts/test`` into ``tests/fixtures/contracts/``),
so nothing here needs a Solidity compiler at run time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.exceptions import LedgerError

ARTIFACTS_DIR = Path(__file__).resolve().parent / "artifacts"
"""Where the production contracts' artifacts live, beside this module."""


class ArtifactNotFoundError(LedgerError, LookupError):
    """No artifact of that contract name exists in the directory searched."""


class ArtifactInvalidError(LedgerError, ValueError):
    """An artifact file exists but is not a well-formed compiled contract."""


@dataclass(frozen=True)
class Artifact:
    """One compiled contract, as ``contracts/scripts/compile.mjs`` wrote it."""

    name: str
    """The contract's name in its Solidity source, also the file's stem."""
    abi: list[dict[str, Any]]
    """The contract's JSON ABI, as web3.py's ``w3.eth.contract(abi=...)`` takes it."""
    bytecode: bytes
    """Creation code (constructor arguments not included); empty for interfaces."""
    deployed_bytecode: bytes
    """Runtime code, what ``eth_getCode`` returns once deployed; empty for interfaces."""
    source_hash: str
    """Hex SHA-256 of the Solidity source file the artifact was compiled from."""


def _hex_bytes(value: object, field: str, path: Path) -> bytes:
    if not isinstance(value, str) or not value.startswith("0x"):
        raise ArtifactInvalidError(f"{path}: {field} is not a 0x-prefixed hex string")
    try:
        return bytes.fromhex(value[2:])
    except ValueError as error:
        raise ArtifactInvalidError(f"{path}: {field} is not valid hex ({error})") from error


def load_artifact(name: str, directory: Path | None = None) -> Artifact:
    """Load the artifact of contract ``name`` from ``directory`` (default: :data:`ARTIFACTS_DIR`).

    Raises :class:`ArtifactNotFoundError` if there is no ``<name>.json`` there, and
    :class:`ArtifactInvalidError` if the file is not a compiled contract.
    """
    directory = ARTIFACTS_DIR if directory is None else directory
    path = directory / f"{name}.json"
    if not name or "/" in name or "\\" in name or name.startswith(".") or not path.is_file():
        available = sorted(p.stem for p in directory.glob("*.json")) if directory.is_dir() else []
        raise ArtifactNotFoundError(
            f"no artifact for contract {name!r} in {directory} "
            f"(available: {', '.join(available) or 'none'}); "
            "run: python scripts/compile_contracts.py"
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ArtifactInvalidError(f"{path}: unreadable JSON ({error})") from error
    if not isinstance(data, dict):
        raise ArtifactInvalidError(f"{path}: not a JSON object")
    abi = data.get("abi")
    if not isinstance(abi, list) or not all(isinstance(entry, dict) for entry in abi):
        raise ArtifactInvalidError(f"{path}: abi is not a list of objects")
    source_hash = data.get("sourceHash")
    if not isinstance(source_hash, str):
        raise ArtifactInvalidError(f"{path}: sourceHash is missing")
    if data.get("contractName") != name:
        raise ArtifactInvalidError(f"{path}: contractName is {data.get('contractName')!r}")
    return Artifact(
        name=name,
        abi=abi,
        bytecode=_hex_bytes(data.get("bytecode"), "bytecode", path),
        deployed_bytecode=_hex_bytes(data.get("deployedBytecode"), "deployedBytecode", path),
        source_hash=source_hash,
    )
