"""Where a city publishes each vote's off-chain files: its manifest and eligibility list.

The chain holds only their hashes; the files themselves are served by the API and handed to
anyone who audits. One folder per chain and election keeps them apart, and the bytes are stored
exactly as hashed (re-serialising could change a byte and break the published hash).
"""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from ledger.voting.eligibility import EligibilityList
from ledger.voting.errors import VotingError
from ledger.voting.manifest import ElectionManifest

MANIFEST = "manifest.json"
ELIGIBILITY = "eligibility.json"


@dataclass(frozen=True, slots=True)
class ElectionFiles:
    root: Path
    chain_id: int

    def folder(self, election_id: int) -> Path:
        return self.root / f"chain-{self.chain_id}" / f"election-{election_id}"

    def stage(self, manifest: ElectionManifest, eligibility: EligibilityList) -> Path:
        """Write both files into a new staging folder beside the elections' folders.

        This happens before the chain is asked to create the vote, so a folder that cannot be
        written fails the command while nothing exists on chain yet; :meth:`adopt` then moves
        the staged folder into place under the election id the chain assigned.
        """
        base = self.root / f"chain-{self.chain_id}"
        try:
            base.mkdir(parents=True, exist_ok=True)
            # Not mkdtemp: its folder is private (0700), and this one becomes the published
            # folder that the API, perhaps another user, serves.
            staging = base / f".staged-{secrets.token_hex(8)}"
            staging.mkdir()
            _write_atomically(staging / MANIFEST, manifest.to_json())
            _write_atomically(staging / ELIGIBILITY, eligibility.to_json())
        except OSError as exc:
            raise VotingError(
                f"cannot write the vote's files under {self.root} ({exc.strerror or exc}); "
                "nothing was created on chain"
            ) from exc
        return staging

    def adopt(self, staging: Path, election_id: int) -> Path:
        """Make the staged files election ``election_id``'s (one rename of the folder)."""
        folder = self.folder(election_id)
        try:
            os.rename(staging, folder)
        except OSError as exc:
            raise VotingError(
                f"election {election_id} exists on chain, but its files could not be moved "
                f"to {folder} ({exc.strerror}); they are in {staging}: move that folder there"
            ) from exc
        return folder

    @staticmethod
    def discard(staging: Path) -> None:
        shutil.rmtree(staging, ignore_errors=True)

    def manifest_bytes(self, election_id: int) -> bytes:
        return self._read(election_id, MANIFEST)

    def eligibility_bytes(self, election_id: int) -> bytes:
        return self._read(election_id, ELIGIBILITY)

    def manifest(self, election_id: int) -> ElectionManifest:
        return ElectionManifest.from_json(self.manifest_bytes(election_id))

    def eligibility(self, election_id: int) -> EligibilityList:
        return EligibilityList.from_json(self.eligibility_bytes(election_id))

    def _read(self, election_id: int, name: str) -> bytes:
        path = self.folder(election_id) / name
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise VotingError(
                f"no {name} for election {election_id} under {self.root} "
                "(created on another machine? pass the published file explicitly)"
            ) from None


def _write_atomically(path: Path, data: bytes) -> None:
    """Readers (the API) see the old file or the whole new one, never a part."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)
