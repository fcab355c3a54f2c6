"""The checks of a relayed cast, before the API spends a transaction on it: the vote is open by
the chain's clock, the voter eligible and signed in, the authorization the voter's and for its
next cast. The relay is non-custodial: the voter's wallet encrypts, proves and signs; the API
submits ``castBallotFor``/``castVoteFor`` with its service account and never sees a secret
ballot's choice."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from eth_utils import encode_hex, to_checksum_address

from api.core import scopes
from api.core.errors import ApiError, forbidden
from api.deps import CurrentPrincipal
from api.elections.published import election_or_404, eligibility_of
from api.schemas import CastReceipt
from api.services import Services
from ledger.contracts.elections import ElectionKind, ElectionPhase, ElectionState
from ledger.exceptions import ContractRevertError

REFUSAL_STATUS = {
    "ElectionsUnknownElection": 404,
    "ElectionsWrongKind": 409,
    "ElectionsWrongPhase": 409,
    "ElectionsNotYetOpen": 409,
    "ElectionsVotingClosed": 409,
    "ElectionsNotEligible": 403,
}
"""The contract's refusals of a relayed cast that are not 422 (invalid input)."""


@dataclass(frozen=True, slots=True)
class CheckedCast:
    """What every relayed cast checks first: the election, open, and the voter's proof."""

    state: ElectionState
    voter: str
    proof: list[bytes]
    sequence: int
    """The sequence number the cast will have (the one the voter must have signed)."""


def checked_cast(
    services: Services, election_id: int, voter: str, kind: ElectionKind, deadline: int
) -> CheckedCast:
    state = election_or_404(services, election_id)
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
    eligibility = eligibility_of(services, state)
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
    return CheckedCast(state, voter, eligibility.proof(voter), sequence)


def own_voter(principal: CurrentPrincipal, voter: str) -> str:
    principal.require(scopes.RELAY)
    address = to_checksum_address(voter)
    if principal.address != address:
        raise forbidden("you may relay only your own ballot: sign in as the voter")
    return address


def submit_cast(services: Services, function: str, *args: Any) -> tuple[str, int | None]:
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
        status = REFUSAL_STATUS.get(exc.error)
        if status is None:
            raise
        raise ApiError(status, exc.error, exc.message) from None
    return tx_hash.to_0x_hex(), None if receipt is None else int(receipt["blockNumber"])


def cast_receipt(
    cast: CheckedCast,
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
        tracking_code=encode_hex(code) if code is not None else None,
        choices=choices,
        function="castBallotFor" if function == "castBallotFor" else "castVoteFor",
        tx_hash=tx_hash,
        status="confirmed" if block is not None else "pending",
        block_number=block,
    )


def require_signed_for_next(
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
