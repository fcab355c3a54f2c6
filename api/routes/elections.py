"""The city's votes over HTTP: the public bulletin board, the published files, and the ballot
relay. Every read is public (a vote's bulletin board is for anyone to check); a cast is
relayed for the signed-in voter only. What these routes stand on is in :mod:`api.elections`.
"""

from __future__ import annotations

from typing import Annotated, Any

from eth_utils import encode_hex, keccak, to_checksum_address
from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse, Response

from api import relaying
from api.core.errors import ApiError
from api.deps import AddressPath, CurrentPrincipal, ServicesDep, SessionDep, checked_address
from api.elections.board import Cast, board_of, casts_of, live_board
from api.elections.casting import (
    cast_receipt,
    checked_cast,
    own_voter,
    require_signed_for_next,
    submit_cast,
)
from api.elections.published import (
    election_or_404,
    eligibility_of,
    file_bytes,
    manifest_of,
    published,
)
from api.idempotency import IdempotencyDep
from api.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from api.schemas import (
    ADDRESS_PATTERN,
    BallotDetail,
    BallotPublic,
    BallotRelayRequest,
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
    TrusteePublic,
    VoteRelayRequest,
)
from ledger.contracts.elections import (
    BallotCast,
    ElectionKind,
    ElectionPhase,
    ElectionState,
    PostedResult,
    VoteCast,
    ballot_typed_data,
    choices_mask,
    vote_typed_data,
)
from ledger.relay import typed_data_signer
from ledger.voting import lifecycle
from ledger.voting.counting import BallotStatus, Verdict
from ledger.voting.crypto import (
    InvalidSelection,
    SelectionCountError,
    VotingCryptoError,
    parse_and_verify,
    tracking_code,
)
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
VoterQuery = Annotated[
    str | None, Query(pattern=ADDRESS_PATTERN, description="Only this voter's ballots.")
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


# -- public views ---------------------------------------------------------------------------------


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
        tally_hash=encode_hex(result.tally_hash),
        published_at=result.published_at,
    )


def _entry(cast: Cast, verdict: Verdict) -> BallotPublic:
    return BallotPublic(
        voter=to_checksum_address(cast.voter),
        sequence=cast.sequence,
        tracking_code=encode_hex(cast.ballot_hash) if isinstance(cast, BallotCast) else None,
        choices=list(cast.options) if isinstance(cast, VoteCast) else None,
        block_number=cast.block_number,
        block_timestamp=cast.block_timestamp,
        tx_hash=cast.tx_hash,
        log_index=cast.log_index,
        status=verdict.status,
        reason=verdict.reason,
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
        manifest = manifest_of(services, state)
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
    state = election_or_404(services, election_id)
    elections = services.city.elections
    config = state.config
    manifest = manifest_of(services, state)
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
            eligibility_root=encode_hex(config.eligibility_root),
            eligibility_list_hash=encode_hex(config.eligibility_list_hash),
            manifest_hash=encode_hex(config.manifest_hash),
            reward_amount=config.reward_amount,
            ballot_length=config.ballot_length,
        ),
        trustees=trustees,
        election_key=encode_hex(state.public_key) if state.public_key else None,
        voter_count=state.voter_count,
        manifest=_manifest_public(manifest) if manifest is not None else None,
        manifest_file=published(services, state, MANIFEST).status,
        eligibility_file=published(services, state, ELIGIBILITY).status,
        live_counts=list(elections.live_counts(election_id)) if poll else None,
        result=_result_public(state, result, manifest) if result is not None else None,
    )


@router.get("/{election_id}/manifest", response_class=Response, responses=_FILE_RESPONSES)
def get_manifest(election_id: ElectionIdPath, services: ServicesDep) -> Response:
    """The vote's manifest (question, options, method) as the exact bytes whose keccak256 is
    the election's `manifestHash`."""
    state = election_or_404(services, election_id)
    return _file_response(file_bytes(services, state, MANIFEST))


@router.get("/{election_id}/eligibility", response_class=Response, responses=_FILE_RESPONSES)
def get_eligibility(election_id: ElectionIdPath, services: ServicesDep) -> Response:
    """The vote's eligibility list as the exact bytes whose keccak256 is the election's
    `eligibilityListHash`."""
    state = election_or_404(services, election_id)
    return _file_response(file_bytes(services, state, ELIGIBILITY))


def _file_response(data: bytes) -> Response:
    # The bytes are pinned by a hash on chain: they never change for this election.
    return Response(
        content=data,
        media_type="application/json",
        headers={
            "ETag": f'"{encode_hex(keccak(data))}"',
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
    state = election_or_404(services, election_id)
    eligibility = eligibility_of(services, state)
    if eligibility is None:
        file_bytes(services, state, ELIGIBILITY)  # says why: missing or not the one on chain
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
        proof=[encode_hex(p) for p in eligibility.proof(account)] if eligible else [],
        root=encode_hex(state.config.eligibility_root),
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
    state = election_or_404(services, election_id)
    board = board_of(services, state)
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
        if status is not None and verdict.status != status:
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
    state = election_or_404(services, election_id)
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
        [
            elections.topic0("BallotCast"),
            encode_hex(election_id.to_bytes(32, "big")),
            None,
            encode_hex(code),
        ],
        from_block=state.created_block,
    )
    if not logs:
        raise ApiError(
            404,
            "ballot_not_found",
            f"no ballot with tracking code {tracking_code.lower()} in election {election_id}",
        )
    voter = to_checksum_address("0x" + logs[-1]["topics"][2][-40:])
    mine = [c for c in casts_of(services, state, voter) if isinstance(c, BallotCast)]
    matching = [c for c in mine if c.ballot_hash == code]
    if not matching:
        raise ApiError(404, "ballot_not_found", f"no ballot with tracking code {tracking_code}")
    cast = matching[-1]
    board = board_of(services, state) if state.phase >= ElectionPhase.CLOSED else live_board(mine)
    entry = _entry(cast, board.status(cast))
    return BallotDetail(**entry.model_dump(), ballot=encode_hex(cast.ballot))


@router.get("/{election_id}/result")
def get_result(election_id: ElectionIdPath, services: ServicesDep) -> ElectionResultPublic:
    """The posted result: counts, turnout, whether the quorum was met, the tally hash."""
    state = election_or_404(services, election_id)
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
    return _result_public(state, result, manifest_of(services, state))


# -- the relay ------------------------------------------------------------------------------------


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
    voter = own_voter(principal, body.voter)

    def send() -> tuple[int, CastReceipt]:
        cast = checked_cast(services, election_id, voter, ElectionKind.SECRET_BALLOT, body.deadline)
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
            return typed_data_signer(typed, bytes.fromhex(body.signature[2:])) == voter

        require_signed_for_next(
            signed_for,
            cast.sequence,
            lambda: elections.last_ballot_hash_of(election_id, voter) == code,
            ApiError(
                409,
                "ballot_already_cast",
                f"this ballot was cast already, as {voter}'s ballot #{cast.sequence - 1} "
                f"(tracking code {encode_hex(code)})",
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
        sent = submit_cast(
            services,
            "castBallotFor",
            voter,
            election_id,
            ballot,
            cast.proof,
            body.deadline,
            bytes.fromhex(body.signature[2:]),
        )
        return cast_receipt(cast, "castBallotFor", sent, code=code)

    return idempotency.run(
        session,
        body,
        send,
        recheck=lambda stored: relaying.recheck(services, CastReceipt, stored, send),
    )


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
    voter = own_voter(principal, body.voter)

    def send() -> tuple[int, CastReceipt]:
        cast = checked_cast(services, election_id, voter, ElectionKind.PUBLIC_POLL, body.deadline)
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
            return typed_data_signer(typed, bytes.fromhex(body.signature[2:])) == voter

        require_signed_for_next(
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
        sent = submit_cast(
            services,
            "castVoteFor",
            voter,
            election_id,
            mask,
            cast.proof,
            body.deadline,
            bytes.fromhex(body.signature[2:]),
        )
        return cast_receipt(cast, "castVoteFor", sent, choices=sorted(chosen))

    return idempotency.run(
        session,
        body,
        send,
        recheck=lambda stored: relaying.recheck(services, CastReceipt, stored, send),
    )
