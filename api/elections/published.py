"""An election as the routes read it: its state on chain (or a 404), and its published files
(manifest, eligibility list), used only if they hash to what the election holds on chain, so
the API never shows a question or a list that is not the vote's."""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils import keccak

from api.core.errors import ApiError
from api.elections.memo import caches
from api.schemas import PublishedFileStatus
from api.services import Services
from ledger.contracts.elections import ElectionNotFoundError, ElectionState
from ledger.voting.eligibility import EligibilityError, EligibilityList
from ledger.voting.errors import ManifestError
from ledger.voting.files import ELIGIBILITY, MANIFEST
from ledger.voting.manifest import ElectionManifest


def election_or_404(services: Services, election_id: int) -> ElectionState:
    try:
        return services.city.elections.election(election_id)
    except ElectionNotFoundError as exc:
        raise ApiError(404, "election_not_found", str(exc)) from None


@dataclass(frozen=True, slots=True)
class PublishedFile:
    status: PublishedFileStatus
    data: bytes | None = None


def published(services: Services, state: ElectionState, name: str) -> PublishedFile:
    """A published file of the election, if it is here and hashes to what the chain holds."""
    expected = (
        state.config.manifest_hash if name == MANIFEST else state.config.eligibility_list_hash
    )
    path = services.election_files.folder(state.id) / name
    found: list[PublishedFile] = []

    def read() -> bytes | None:
        try:
            data = path.read_bytes()
        except OSError:
            found.append(PublishedFile("missing"))
            return None
        if keccak(data) != expected:
            found.append(PublishedFile("mismatch"))
            return None
        return data

    data = caches(services).files.get((str(path), expected), read)
    return PublishedFile("published", data) if data is not None else found[0]


def file_bytes(services: Services, state: ElectionState, name: str) -> bytes:
    found = published(services, state, name)
    if found.data is not None:
        return found.data
    what = "manifest" if name == MANIFEST else "eligibility list"
    if found.status == "missing":
        raise ApiError(
            404,
            "file_not_published",
            f"the {what} of election {state.id} is not published on this server",
        )
    raise ApiError(
        503,
        "published_file_mismatch",
        f"the {what} of election {state.id} stored on this server does not hash to the one "
        "the election holds on chain",
    )


def manifest_of(services: Services, state: ElectionState) -> ElectionManifest | None:
    data = published(services, state, MANIFEST).data
    if data is None:
        return None
    try:
        return ElectionManifest.from_json(data)
    except ManifestError:
        return None


def eligibility_of(services: Services, state: ElectionState) -> EligibilityList | None:
    """The election's published eligibility list (parsed and its tree built once), or None if
    it is not here or is not the one on chain."""
    data = published(services, state, ELIGIBILITY).data
    if data is None:
        return None

    def parse() -> EligibilityList | None:
        try:
            listed = EligibilityList.from_json(data)
        except EligibilityError:
            return None
        return listed if listed.root == state.config.eligibility_root else None

    key = (str(services.election_files.folder(state.id)), state.config.eligibility_list_hash)
    return caches(services).eligibility.get(key, parse)
