"""Compiled Solidity contracts: committed artifacts and their loader."""

from ledger.contracts.artifacts import (
    ARTIFACTS_DIR,
    Artifact,
    ArtifactInvalidError,
    ArtifactNotFoundError,
    load_artifact,
)

__all__ = [
    "ARTIFACTS_DIR",
    "Artifact",
    "ArtifactInvalidError",
    "ArtifactNotFoundError",
    "load_artifact",
]
