"""The city's votes: the public bulletin board, the published files, and the ballot relay.

Reads come from the chain (the Elections contract's state and its ``BallotCast``/``VoteCast``
events) and from the folder where ``cityledger election`` publishes each vote's manifest and
eligibility list (``CITYLEDGER_API_ELECTIONS_DIR``); nothing about votes is indexed in SQL. An
open vote's board is kept in memory and extended by the blocks since its last read; a closed
vote's is computed once (nothing can change it any more). A
ballot's status on the board is what :mod:`ledger.voting.counting`, the one counting rule, says
of it. Every read is public: a vote's bulletin board is for anyone to check.

The relay is non-custodial. The voter's wallet encrypts and proves the ballot and signs the
EIP-712 ``Ballot`` authorization for its next sequence number; the API checks what the contract
and the counting rule would (the vote is open, the voter eligible, the ballot of the exact
length, the signature the voter's, every proof valid), so that it never spends a transaction on
a ballot that would revert or be void, and submits ``castBallotFor`` with its service account.
The API never sees a plaintext choice of a secret ballot. Public polls are relayed the same way
(``castVoteFor``), their choices being public by nature.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from typing import Annotated, Any, Generic, TypeVar

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak, to_checksum_address
from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse, Response

from api.core import scopes
from api.core.errors import ApiError, forbidden
from api.deps import CurrentPrincipal, ServicesDep, SessionDep, checked_address
from api.idempotency import IdempotencyDep
from api.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from api.schemas import (
    BallotDetail,
    BallotPublic,
    BallotRelayRequest,
    BallotStatus,
    CastReceipt,
    ElectionConfigPublic,
    ElectionKindName,
    ElectionOptionPublic,
    ElectionPhaseName,
    ElectionPublic,
    ElectionResultPublic,
    ElectionSummary,
    EligibilityProofPublic,
    ManifestPublic,
    PublishedFileStatus,
    TrusteePublic,
    VoteRelayRequest,
)
from api.services import Services
from ledger.contracts.elections import (
    BallotCast,
    ElectionKind,
    ElectionNotFoundError,
    ElectionPhase,
    ElectionState,
    PostedResult,
    VoteCast,
    ballot_typed_data,
    choices_mask,
    vote_typed_data,
)
from ledger.exceptions import ContractRevertError
from ledger.voting import lifecycle
from ledger.voting.counting import count_ballots, count_votes, last_casts
from ledger.voting.crypto import (
    InvalidSelection,
    SelectionCountError,
    VotingCryptoError,
    parse_and_verify,
    tracking_code,
)
from ledger.voting.eligibility import EligibilityError, EligibilityList
from ledger.voting.errors import ManifestError
from ledger.voting.files import ELIGIBILITY, MANIFEST
from ledger.voting.manifest import ElectionManifest
from ledger.voting.record import spec_of, window_of

router = APIRouter(prefix="/elections", tags=["elections"])

ElectionIdPath = Annotated[int, Path(ge=1, lt=2**63, description="The election's number.")]
TrackingCodePath = Annotated[
    str,
    Path(
        pattern=r"^0x[0-9a-fA-F]{64}$",
        description="A ballot's tracking code: keccak256 of its bytes, as the wallet prints it.",
    ),
]
AddressPath = Annotated[
    str, Path(pattern=r"^0x[0-9a-fA-F]{40}$", description="An account address.")
]
VoterQuery = Annotated[
    str | None, Query(pattern=r"^0x[0-9a-fA-F]{40}$", description="Only this voter's ballots.")
]
StatusQuery = Annotated[BallotStatus | None, Query(description="Only ballots with this status.")]

_FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file's exact published bytes: check their keccak256 against the "
        "hash the election holds on chain.",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}
_CAST_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"model": CastReceipt, "description": "Sent; not mined within the relay wait"}
}
_REFUSAL_STATUS = {
    "ElectionsUnknownElection": 404,
    "ElectionsWrongKind": 409,
    "ElectionsWrongPhase": 409,
    "ElectionsNotYetOpen": 409,
    "ElectionsVotingClosed": 409,
    "ElectionsNotEligible": 403,
}
"""The contract's refusals of a relayed cast that are not 422 (invalid input)."""


# -- caches -------------------------------------------------------------------------------------

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class _Memo(Generic[K, V]):
    """The last ``size`` values computed, each computed once even under concurrent requests.

    It holds only what cannot change any more: published files (their hash is on chain) and
    the board of a closed vote (the contract accepts no ballot after the close).
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[K, threading.Lock] = {}

    def get(self, key: K, compute: Callable[[], V | None]) -> V | None:
        """The value of ``key``, computed if absent (a ``None`` result is not kept)."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            lock = self._computing.setdefault(key, threading.Lock())
        with lock:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            try:
                value = compute()
                if value is not None:
                    with self._lock:
                        self._items[key] = value
                        while len(self._items) > self._size:
                            self._items.popitem(last=False)
                return value
            finally:
                with self._lock:
                    self._computing.pop(key, None)


class _Caches:
    """One application's memos (each app serves one deployment)."""

    def __init__(self) -> None:
        self.files: _Memo[tuple[str, bytes], bytes] = _Memo(16)
        self.eligibility: _Memo[tuple[str, bytes], EligibilityList] = _Memo(4)
        self.boards: _Memo[tuple[int, int, bytes, bytes], _Board] = _Memo(8)
        """Closed votes' boards (without ballot bytes), by election, its creation block and
        manifest (a chain reset under a running API does not reuse another vote's board), and
        the eligibility list applied."""
        self.live: _Memo[tuple[int, int, bytes], _LiveCasts] = _Memo(8)
        """Open votes' casts read so far, by election, creation block and manifest."""


_CACHES: weakref.WeakKeyDictionary[Services, _Caches] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def _caches(services: Services) -> _Caches:
    with _CACHES_LOCK:
        found = _CACHES.get(services)
        if found is None:
            found = _CACHES[services] = _Caches()
        return found


# -- reading an election --------------------------------------------------------------------------


def _state(services: Services, election_id: int) -> ElectionState:
    try:
        return services.city.elections.election(election_id)
    except ElectionNotFoundError as exc:
        raise ApiError(404, "election_not_found", str(exc)) from None


def _kind(state: ElectionState) -> ElectionKindName:
    return "public_poll" if state.config.kind is ElectionKind.PUBLIC_POLL else "secret_ballot"


def _phase(state: ElectionState) -> ElectionPhaseName:
    names: dict[ElectionPhase, ElectionPhaseName] = {
        ElectionPhase.SETUP: "setup",
        ElectionPhase.OPEN: "open",
        ElectionPhase.CLOSED: "closed",
        ElectionPhase.TALLIED: "tallied",
    }
    return names[state.phase]


def _accepting(state: ElectionState, next_block: int) -> bool:
    window = window_of(state.config)
    return state.phase is ElectionPhase.OPEN and window.contains(next_block)


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


@dataclass(frozen=True, slots=True)
class _File:
    status: PublishedFileStatus
    data: bytes | None = None


def _published(services: Services, state: ElectionState, name: str) -> _File:
    """A published file of the election, if it is here and hashes to what the chain holds."""
    expected = (
        state.config.manifest_hash if name == MANIFEST else state.config.eligibility_list_hash
    )
    path = services.election_files.folder(state.id) / name
    found: list[_File] = []

    def read() -> bytes | None:
        try:
            data = path.read_bytes()
        except OSError:
            found.append(_File("missing"))
            return None
        if keccak(data) != expected:
            found.append(_File("mismatch"))
            return None
        return data

    data = _caches(services).files.get((str(path), expected), read)
    return _File("published", data) if data is not None else found[0]


def _file_bytes(services: Services, state: ElectionState, name: str) -> bytes:
    published = _published(services, state, name)
    if published.data is not None:
        return published.data
    what = "manifest" if name == MANIFEST else "eligibility list"
    if published.status == "missing":
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


def _manifest(services: Services, state: ElectionState) -> ElectionManifest | None:
    data = _published(services, state, MANIFEST).data
    if data is None:
        return None
    try:
        return ElectionManifest.from_json(data)
    except ManifestError:
        return None


def _eligibility(services: Services, state: ElectionState) -> EligibilityList | None:
    """The election's published eligibility list (parsed and its tree built once), or None if
    it is not here or is not the one on chain."""
    data = _published(services, state, ELIGIBILITY).data
    if data is None:
        return None

    def parse() -> EligibilityList | None:
        try:
            listed = EligibilityList.from_json(data)
        except EligibilityError:
            return None
        return listed if listed.root == state.config.eligibility_root else None

    key = (str(services.election_files.folder(state.id)), state.config.eligibility_list_hash)
    return _caches(services).eligibility.get(key, parse)


def _manifest_public(manifest: ElectionManifest) -> ManifestPublic:
    return ManifestPublic(
        title=manifest.title,
        method=manifest.method.value,
        public=manifest.public,
        min_selections=manifest.min_selections,
        max_selections=manifest.max_selections,
        budget=manifest.budget,
        options=[
            ElectionOptionPublic(number=number, label=option.label, cost=option.cost)
            for number, option in enumerate(manifest.options)
        ],
    )


def _result_public(
    state: ElectionState, result: PostedResult, manifest: ElectionManifest | None
) -> ElectionResultPublic:
    return ElectionResultPublic(
        election_id=state.id,
        counts=list(result.counts),
        labels=[o.label for o in manifest.options] if manifest is not None else None,
        turnout=result.turnout,
        eligible_count=state.config.eligible_count,
        quorum=state.config.quorum,
        quorum_met=result.quorum_met,
        tally_hash=_hex(result.tally_hash),
        published_at=result.published_at,
    )


# -- the bulletin board ---------------------------------------------------------------------------

Cast = BallotCast | VoteCast


@dataclass(frozen=True, slots=True)
class _Board:
    """An election's casts in chain order, and what the counting rule says of each voter's last
    one (``live`` while the vote is open; ``counted`` or ``void`` once it is closed)."""

    casts: tuple[Cast, ...]
    last: dict[str, int]
    """Each voter's last sequence number."""
    verdicts: dict[str, tuple[BallotStatus, str | None]]

    def status(self, cast: Cast) -> tuple[BallotStatus, str | None]:
        voter = to_checksum_address(cast.voter)
        if cast.sequence != self.last.get(voter):
            return "superseded", None
        return self.verdicts.get(voter, _LIVE)


def _casts(
    services: Services,
    state: ElectionState,
    voter: str | None = None,
    *,
    from_block: int | None = None,
    to_block: int | None = None,
) -> list[Cast]:
    read = (
        services.city.elections.votes
        if state.config.kind is ElectionKind.PUBLIC_POLL
        else services.city.elections.ballots
    )
    return list(read(state.id, voter=voter, from_block=from_block, to_block=to_block))


RESCAN_BLOCKS = 8
"""Blocks an open vote's board reads again on each extension: what a reorg of the newest
blocks could have changed (the city chain's QBFT and the embedded node are final; anvil in
development need not be)."""


class _LiveCasts:
    """An open vote's casts in chain order, without ballot bytes, read once: each board
    request reads only the blocks since the last (a vote of 20,000 ballots would otherwise
    be megabytes of logs per request)."""

    def __init__(self, created_block: int) -> None:
        self._lock = threading.Lock()
        self._casts: list[Cast] = []
        self._through = created_block - 1

    def read(self, services: Services, state: ElectionState) -> tuple[Cast, ...]:
        with self._lock:
            head = services.city.chain.block_number()
            if head > self._through:
                start = max(state.created_block, self._through + 1 - RESCAN_BLOCKS)
                kept = [c for c in self._casts if c.block_number < start]
                fresh = _casts(services, state, from_block=start, to_block=head)
                self._casts = kept + [_without_bytes(c) for c in fresh]
                self._through = head
            return tuple(self._casts)


def _without_bytes(cast: Cast) -> Cast:
    """The board lists ballots without their bytes; one ballot's detail reads them again."""
    return replace(cast, ballot=b"") if isinstance(cast, BallotCast) else cast


_LIVE: tuple[BallotStatus, str | None] = ("live", None)
_COUNTED: tuple[BallotStatus, str | None] = ("counted", None)


def _live_board(casts: Sequence[Cast]) -> _Board:
    last, _ = last_casts(casts)
    return _Board(
        tuple(casts),
        {voter: cast.sequence for voter, cast in last.items()},
        dict.fromkeys(last, _LIVE),
    )


def _counted_board(
    services: Services, state: ElectionState, eligibility: EligibilityList | None
) -> _Board:
    """Apply the counting rule to a closed election's casts (docs/voting-spec.md section 6)."""
    casts = _casts(services, state)
    eligible = frozenset(eligibility.accounts) if eligibility is not None else None
    window = window_of(state.config)
    spec = spec_of(state.config)
    verdicts: dict[str, tuple[BallotStatus, str | None]] = {}
    if state.config.kind is ElectionKind.PUBLIC_POLL:
        votes = [c for c in casts if isinstance(c, VoteCast)]
        poll = count_votes(votes, spec=spec, window=window, eligible=eligible)
        counted: frozenset[str] = poll.voters
        void = poll.void
    else:
        ballots = [c for c in casts if isinstance(c, BallotCast)]
        count = count_ballots(
            ballots,
            context=lifecycle.context_of(services.city, state.id),
            public_key=lifecycle.public_key_of(state),
            spec=spec,
            window=window,
            eligible=eligible,
        )
        counted, void = count.voters, count.void
        casts = [_without_bytes(c) for c in ballots]
    verdicts.update(dict.fromkeys(counted, _COUNTED))
    verdicts.update({voter: ("void", reason) for voter, reason in void.items()})
    last, _ = last_casts(casts)
    return _Board(tuple(casts), {v: c.sequence for v, c in last.items()}, verdicts)


def _board(services: Services, state: ElectionState) -> _Board:
    if state.phase < ElectionPhase.CLOSED:
        live = _caches(services).live.get(
            (state.id, state.created_block, state.config.manifest_hash),
            lambda: _LiveCasts(state.created_block),
        )
        assert live is not None
        return _live_board(live.read(services, state))
    eligibility = _eligibility(services, state)
    key = (
        state.id,
        state.created_block,
        state.config.manifest_hash,
        state.config.eligibility_list_hash if eligibility is not None else b"",
    )
    board = _caches(services).boards.get(key, lambda: _counted_board(services, state, eligibility))
    assert board is not None
    return board


def _entry(cast: Cast, status: tuple[BallotStatus, str | None]) -> BallotPublic:
    return BallotPublic(
        voter=to_checksum_address(cast.voter),
        sequence=cast.sequence,
        tracking_code=_hex(cast.ballot_hash) if isinstance(cast, BallotCast) else None,
        choices=list(cast.options) if isinstance(cast, VoteCast) else None,
        block_number=cast.block_number,
        block_timestamp=cast.block_timestamp,
        tx_hash=cast.tx_hash,
        log_index=cast.log_index,
        status=status[0],
        reason=status[1],
    )


# -- reads ----------------------------------------------------------------------------------------


@router.get("")
def list_elections(
    services: ServicesDep, limit: Limit = 50, cursor: Cursor = None
) -> Page[ElectionSummary]:
    """Every vote on this chain, newest first: its kind, phase, title and window."""
    elections = services.city.elections
    after = decode_cursor(cursor, (int,))
    top = elections.election_count()
    if after is not None:
        top = min(top, int(after[0]) - 1)
    ids = list(range(top, max(0, top - limit), -1))
    next_block = services.city.chain.next_block_time() if ids else 0
    items = []
    for election_id in ids:
        state = elections.election(election_id)
        manifest = _manifest(services, state)
        items.append(
            ElectionSummary(
                id=state.id,
                kind=_kind(state),
                phase=_phase(state),
                accepting_ballots=_accepting(state, next_block),
                title=manifest.title if manifest else None,
                method=manifest.method.value if manifest else None,
                opens_at=state.config.opens_at,
                closes_at=state.config.closes_at,
                voter_count=state.voter_count,
                eligible_count=state.config.eligible_count,
            )
        )
    more = bool(ids) and ids[-1] > 1
    return Page[ElectionSummary](
        items=items, next_cursor=encode_cursor(ids[-1]) if more and len(ids) == limit else None
    )


@router.get("/{election_id}")
def get_election(election_id: ElectionIdPath, services: ServicesDep) -> ElectionPublic:
    """A vote's configuration, phase, trustees, election key, manifest and posted result."""
    state = _state(services, election_id)
    elections = services.city.elections
    config = state.config
    manifest = _manifest(services, state)
    result = elections.result(election_id)
    trustees = []
    for index, trustee in enumerate(state.trustees, start=1):
        committed, shares, decrypted = elections.posts_of(election_id, trustee)
        trustees.append(
            TrusteePublic(
                index=index,
                address=trustee,
                committed=committed,
                shares_posted=shares,
                decrypted=decrypted,
            )
        )
    poll = config.kind is ElectionKind.PUBLIC_POLL
    return ElectionPublic(
        id=state.id,
        kind=_kind(state),
        phase=_phase(state),
        accepting_ballots=_accepting(state, services.city.chain.next_block_time()),
        chain_id=services.city.chain.chain_id,
        contract=elections.address,
        created_block=state.created_block,
        config=ElectionConfigPublic(
            option_count=config.option_count,
            min_selections=config.min_selections,
            max_selections=config.max_selections,
            threshold=config.threshold,
            opens_at=config.opens_at,
            closes_at=config.closes_at,
            quorum=config.quorum,
            eligible_count=config.eligible_count,
            eligibility_root=_hex(config.eligibility_root),
            eligibility_list_hash=_hex(config.eligibility_list_hash),
            manifest_hash=_hex(config.manifest_hash),
            reward_amount=config.reward_amount,
            ballot_length=config.ballot_length,
        ),
        trustees=trustees,
        election_key=_hex(state.public_key) if state.public_key else None,
        voter_count=state.voter_count,
        manifest=_manifest_public(manifest) if manifest is not None else None,
        manifest_file=_published(services, state, MANIFEST).status,
        eligibility_file=_published(services, state, ELIGIBILITY).status,
        live_counts=list(elections.live_counts(election_id)) if poll else None,
        result=_result_public(state, result, manifest) if result is not None else None,
    )


@router.get("/{election_id}/manifest", response_class=Response, responses=_FILE_RESPONSES)
def get_manifest(election_id: ElectionIdPath, services: ServicesDep) -> Response:
    """The vote's manifest (question, options, method) as the exact bytes whose keccak256 is
    the election's `manifestHash`."""
    state = _state(services, election_id)
    return _file_response(_file_bytes(services, state, MANIFEST))


@router.get("/{election_id}/eligibility", response_class=Response, responses=_FILE_RESPONSES)
def get_eligibility(election_id: ElectionIdPath, services: ServicesDep) -> Response:
    """The vote's eligibility list as the exact bytes whose keccak256 is the election's
    `eligibilityListHash`."""
    state = _state(services, election_id)
    return _file_response(_file_bytes(services, state, ELIGIBILITY))


def _file_response(data: bytes) -> Response:
    # The bytes are pinned by a hash on chain: they never change for this election.
    return Response(
        content=data,
        media_type="application/json",
        headers={
            "ETag": f'"{_hex(keccak(data))}"',
            "Cache-Control": "public, max-age=86400, immutable",
        },
    )


@router.get("/{election_id}/eligibility/{address}")
def get_eligibility_proof(
    election_id: ElectionIdPath, address: AddressPath, services: ServicesDep
) -> EligibilityProofPublic:
    """Whether an account may vote, and its Merkle proof against the election's root (what
    `castBallot`/`castVote` take)."""
    account = checked_address(address)
    state = _state(services, election_id)
    eligibility = _eligibility(services, state)
    if eligibility is None:
        _file_bytes(services, state, ELIGIBILITY)  # says why: missing or not the one on chain
        raise ApiError(
            503,
            "published_file_mismatch",
            f"the eligibility list of election {election_id} does not build its root",
        )
    eligible = account in eligibility
    return EligibilityProofPublic(
        election_id=election_id,
        address=account,
        eligible=eligible,
        proof=[_hex(p) for p in eligibility.proof(account)] if eligible else [],
        root=_hex(state.config.eligibility_root),
    )


@router.get("/{election_id}/ballots")
def list_ballots(
    election_id: ElectionIdPath,
    services: ServicesDep,
    voter: VoterQuery = None,
    status: StatusQuery = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[BallotPublic]:
    """The bulletin board: every ballot (or public-poll vote) in chain order, with its status
    under the counting rule — `live`/`superseded` while the vote is open, `counted`,
    `superseded` or `void` (with the reason) once it is closed."""
    state = _state(services, election_id)
    board = _board(services, state)
    wanted = to_checksum_address(voter) if voter else None
    after = decode_cursor(cursor, (int, int))
    items: list[BallotPublic] = []
    more = False
    for cast in board.casts:
        if after is not None and (cast.block_number, cast.log_index) <= after:
            continue
        if wanted is not None and to_checksum_address(cast.voter) != wanted:
            continue
        verdict = board.status(cast)
        if status is not None and verdict[0] != status:
            continue
        if len(items) == limit:
            more = True
            break
        items.append(_entry(cast, verdict))
    last = items[-1] if more else None
    return Page[BallotPublic](
        items=items,
        next_cursor=encode_cursor(last.block_number, last.log_index) if last else None,
    )


@router.get("/{election_id}/ballots/{tracking_code}")
def get_ballot(
    election_id: ElectionIdPath, tracking_code: TrackingCodePath, services: ServicesDep
) -> BallotDetail:
    """One ballot by its tracking code, with its bytes and status (if the same bytes were cast
    twice, the later cast)."""
    state = _state(services, election_id)
    if state.config.kind is ElectionKind.PUBLIC_POLL:
        raise ApiError(
            404,
            "ballot_not_found",
            f"election {election_id} is a public poll: its votes have no tracking code "
            f"(list them with ?voter= on /elections/{election_id}/ballots)",
        )
    code = bytes.fromhex(tracking_code[2:])
    elections = services.city.elections
    logs = elections.raw_logs(
        [elections.topic0("BallotCast"), _hex(election_id.to_bytes(32, "big")), None, _hex(code)],
        from_block=state.created_block,
    )
    if not logs:
        raise ApiError(
            404,
            "ballot_not_found",
            f"no ballot with tracking code {tracking_code.lower()} in election {election_id}",
        )
    voter = to_checksum_address("0x" + logs[-1]["topics"][2][-40:])
    mine = [c for c in _casts(services, state, voter) if isinstance(c, BallotCast)]
    matching = [c for c in mine if c.ballot_hash == code]
    if not matching:
        raise ApiError(404, "ballot_not_found", f"no ballot with tracking code {tracking_code}")
    cast = matching[-1]
    board = _board(services, state) if state.phase >= ElectionPhase.CLOSED else _live_board(mine)
    entry = _entry(cast, board.status(cast))
    return BallotDetail(**entry.model_dump(), ballot=_hex(cast.ballot))


@router.get("/{election_id}/result")
def get_result(election_id: ElectionIdPath, services: ServicesDep) -> ElectionResultPublic:
    """The posted result: counts, turnout, whether the quorum was met, the tally hash."""
    state = _state(services, election_id)
    result = services.city.elections.result(election_id)
    if result is None:
        when = {
            ElectionPhase.SETUP: "is being set up",
            ElectionPhase.OPEN: "is open",
            ElectionPhase.CLOSED: "is closed and being counted",
        }.get(state.phase, "has no result")
        raise ApiError(
            404,
            "result_not_published",
            f"election {election_id} {when}: its result is posted after the close "
            "(and, for a secret ballot, the trustees' decryption)",
        )
    return _result_public(state, result, _manifest(services, state))


# -- the relay ------------------------------------------------------------------------------------


def _signer(typed: dict[str, Any], signature: str) -> str | None:
    try:
        recovered: str = Account.recover_message(
            encode_typed_data(full_message=typed), signature=bytes.fromhex(signature[2:])
        )
    except Exception:  # malformed signatures raise from several layers of eth-keys
        return None
    return recovered


@dataclass(frozen=True, slots=True)
class _Checked:
    """What every relayed cast checks first: the election, open, and the voter's proof."""

    state: ElectionState
    voter: str
    proof: list[bytes]
    sequence: int
    """The sequence number the cast will have (the one the voter must have signed)."""


def _checked_cast(
    services: Services, election_id: int, voter: str, kind: ElectionKind, deadline: int
) -> _Checked:
    state = _state(services, election_id)
    if state.config.kind is not kind:
        route = "votes" if state.config.kind is ElectionKind.PUBLIC_POLL else "ballots"
        what = "a public poll" if route == "votes" else "a secret ballot"
        raise ApiError(
            409,
            "wrong_election_kind",
            f"election {election_id} is {what}: cast with POST /elections/{election_id}/{route}",
        )
    # Refuse only what is certain: the chain's own clock is past the close (or the deadline),
    # or even the wall clock is before the opening. The dry run decides the edges.
    config = state.config
    chain_next = services.city.chain.latest_timestamp() + 1
    if state.phase is ElectionPhase.SETUP:
        why = "is not open yet (its trustees' key ceremony comes first)"
    elif state.phase is not ElectionPhase.OPEN or chain_next >= config.closes_at:
        why = f"closed at {config.closes_at} (block time)"
    elif max(chain_next, int(time.time())) < config.opens_at:
        why = f"accepts ballots from {config.opens_at} (block time)"
    else:
        why = ""
    if why:
        raise ApiError(409, "election_not_open", f"election {election_id} {why}")
    eligibility = _eligibility(services, state)
    if eligibility is None:
        raise ApiError(
            503,
            "eligibility_unavailable",
            f"the eligibility list of election {election_id} is not published on this server "
            "(or is not the one on chain): the relay cannot prove the voter eligible",
        )
    if voter not in eligibility:
        raise ApiError(
            403, "not_eligible", f"{voter} is not on the eligibility list of election {election_id}"
        )
    if deadline < chain_next:
        raise ApiError(
            422,
            "authorization_expired",
            f"the authorization's deadline {deadline} has passed (block time is {chain_next - 1})",
        )
    sequence = services.city.elections.sequence_of(election_id, voter) + 1
    return _Checked(state, voter, eligibility.proof(voter), sequence)


def _own(principal: CurrentPrincipal, voter: str) -> str:
    principal.require(scopes.RELAY)
    address = to_checksum_address(voter)
    if principal.address != address:
        raise forbidden("you may relay only your own ballot: sign in as the voter")
    return address


def _submit(services: Services, function: str, *args: Any) -> tuple[str, int | None]:
    """Send ``function`` of the Elections contract with the service account: dry-run first in
    the next block's context (a refusal costs nothing), then wait up to the relay wait."""
    city = services.city
    try:
        tx_hash = city.chain.send(
            services.service_signer,
            to=city.elections.address,
            data=city.elections.calldata(function, *args),
        )
        receipt = city.chain.settled(tx_hash, services.settings.relay_wait)
    except ContractRevertError as exc:
        status = _REFUSAL_STATUS.get(exc.error)
        if status is None:
            raise
        raise ApiError(status, exc.error, exc.message) from None
    return tx_hash.to_0x_hex(), None if receipt is None else int(receipt["blockNumber"])


def _receipt(
    cast: _Checked,
    function: str,
    sent: tuple[str, int | None],
    *,
    code: bytes | None = None,
    choices: list[int] | None = None,
) -> tuple[int, CastReceipt]:
    tx_hash, block = sent
    return (201 if block is not None else 202), CastReceipt(
        election_id=cast.state.id,
        voter=cast.voter,
        sequence=cast.sequence,
        tracking_code=_hex(code) if code is not None else None,
        choices=choices,
        function="castBallotFor" if function == "castBallotFor" else "castVoteFor",
        tx_hash=tx_hash,
        status="confirmed" if block is not None else "pending",
        block_number=block,
    )


@router.post(
    "/{election_id}/ballots",
    status_code=201,
    response_model=CastReceipt,
    responses=_CAST_RESPONSES,
)
def relay_ballot(
    election_id: ElectionIdPath,
    body: BallotRelayRequest,
    principal: CurrentPrincipal,
    session: SessionDep,
    services: ServicesDep,
    idempotency: IdempotencyDep,
) -> JSONResponse:
    """Cast the caller's encrypted ballot with its signed EIP-712 `Ballot` authorization
    (`castBallotFor`, sent by the API's service account): 201 once mined, 202 if still pending.
    The ballot is checked first — open vote, eligible voter, exact length, the voter's signature
    for its next sequence, every proof — so a ballot that would be refused or void costs
    nothing. Returns the tracking code."""
    voter = _own(principal, body.voter)

    def send() -> tuple[int, CastReceipt]:
        cast = _checked_cast(
            services, election_id, voter, ElectionKind.SECRET_BALLOT, body.deadline
        )
        config = cast.state.config
        ballot = bytes.fromhex(body.ballot[2:])
        if len(ballot) != config.ballot_length:
            raise ApiError(
                422,
                "invalid_ballot_length",
                f"a ballot of election {election_id} is exactly {config.ballot_length} bytes "
                f"({config.option_count} options, {config.min_selections}-"
                f"{config.max_selections} chosen), not {len(ballot)}",
            )
        code = tracking_code(ballot)
        elections = services.city.elections
        chain_id = services.city.chain.chain_id

        def signed_for(sequence: int) -> bool:
            typed = ballot_typed_data(
                elections.address, chain_id, voter, election_id, code, sequence, body.deadline
            )
            return _signer(typed, body.signature) == voter

        _require_signed_for_next(
            signed_for,
            cast.sequence,
            lambda: elections.last_ballot_hash_of(election_id, voter) == code,
            ApiError(
                409,
                "ballot_already_cast",
                f"this ballot was cast already, as {voter}'s ballot #{cast.sequence - 1} "
                f"(tracking code {_hex(code)})",
            ),
            ApiError(
                422,
                "invalid_ballot_signature",
                f"the Ballot authorization is not signed by {voter} for this ballot, election "
                f"and deadline as its ballot #{cast.sequence} (its next)",
            ),
        )
        try:
            parse_and_verify(
                lifecycle.context_of(services.city, election_id),
                lifecycle.public_key_of(cast.state),
                spec_of(config),
                voter,
                ballot,
            )
        except VotingCryptoError as exc:
            raise ApiError(
                422, "invalid_ballot", f"the ballot would not be counted: {exc}"
            ) from None
        sent = _submit(
            services,
            "castBallotFor",
            voter,
            election_id,
            ballot,
            cast.proof,
            body.deadline,
            bytes.fromhex(body.signature[2:]),
        )
        return _receipt(cast, "castBallotFor", sent, code=code)

    return idempotency.run(session, body, send)


@router.post(
    "/{election_id}/votes", status_code=201, response_model=CastReceipt, responses=_CAST_RESPONSES
)
def relay_vote(
    election_id: ElectionIdPath,
    body: VoteRelayRequest,
    principal: CurrentPrincipal,
    session: SessionDep,
    services: ServicesDep,
    idempotency: IdempotencyDep,
) -> JSONResponse:
    """Cast the caller's public-poll vote with its signed EIP-712 `Vote` authorization
    (`castVoteFor`, sent by the API's service account): 201 once mined, 202 if pending."""
    voter = _own(principal, body.voter)

    def send() -> tuple[int, CastReceipt]:
        cast = _checked_cast(services, election_id, voter, ElectionKind.PUBLIC_POLL, body.deadline)
        config = cast.state.config
        chosen = body.choices
        try:
            spec_of(config).check_choices(chosen)
        except SelectionCountError as exc:
            raise ApiError(
                422, "invalid_selection_count", f"election {election_id}: {exc}"
            ) from None
        except InvalidSelection as exc:
            raise ApiError(422, "invalid_choices", f"election {election_id}: {exc}") from None
        mask = choices_mask(chosen)
        elections = services.city.elections
        chain_id = services.city.chain.chain_id

        def signed_for(sequence: int) -> bool:
            typed = vote_typed_data(
                elections.address, chain_id, voter, election_id, mask, sequence, body.deadline
            )
            return _signer(typed, body.signature) == voter

        _require_signed_for_next(
            signed_for,
            cast.sequence,
            lambda: elections.choices_of(election_id, voter) == mask,
            ApiError(
                409,
                "vote_already_cast",
                f"this vote was cast already, as {voter}'s vote #{cast.sequence - 1}",
            ),
            ApiError(
                422,
                "invalid_vote_signature",
                f"the Vote authorization is not signed by {voter} for these choices, election "
                f"and deadline as its vote #{cast.sequence} (its next)",
            ),
        )
        sent = _submit(
            services,
            "castVoteFor",
            voter,
            election_id,
            mask,
            cast.proof,
            body.deadline,
            bytes.fromhex(body.signature[2:]),
        )
        return _receipt(cast, "castVoteFor", sent, choices=sorted(chosen))

    return idempotency.run(session, body, send)


def _require_signed_for_next(
    signed_for: Callable[[int], bool],
    sequence: int,
    is_last_cast: Callable[[], bool],
    already_cast: ApiError,
    invalid: ApiError,
) -> None:
    """The authorization must be for the voter's next cast; one for the cast just made is a
    replay (409), anything else a bad signature (422)."""
    if signed_for(sequence):
        return
    if sequence > 1 and is_last_cast() and signed_for(sequence - 1):
        raise already_cast
    raise invalid
