"""The relay policy of this API: which signed transactions it passes on, for whom."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any, Protocol, TypeVar, cast

from eth_utils import to_checksum_address
from hexbytes import HexBytes
from pydantic import BaseModel

from api.core.errors import ApiError
from api.schemas import RelayResult
from api.services import Services
from ledger.relay import RelayPolicy, SignedTransaction, decode_signed_transaction, relay, selectors

PENDING: dict[int | str, dict[str, Any]] = {
    202: {"model": RelayResult, "description": "Sent; not mined within the relay wait"}
}
TOKEN_FUNCTIONS = ("transfer", "approve")
ROUTER_FUNCTIONS = ("pay", "refund", "cancelInvoice", "requestRedemption")


def policy(services: Services) -> RelayPolicy:
    city = services.city
    return RelayPolicy(
        chain_id=city.chain.chain_id,
        allowed={
            city.token.address: selectors(city.token.contract.abi, TOKEN_FUNCTIONS),
            city.payments.address: selectors(city.payments.contract.abi, ROUTER_FUNCTIONS),
        },
    )


def decode(raw_hex: str) -> SignedTransaction:
    return decode_signed_transaction(bytes.fromhex(raw_hex[2:]))


def checked(
    services: Services, raw_hex: str, sender: str, functions: Collection[str]
) -> tuple[SignedTransaction, str]:
    """The decoded transaction and its function, if ``sender`` signed it and it calls one of
    ``functions`` on the token or router."""
    tx = decode(raw_hex)
    function = policy(services).check(tx, sender)
    if function not in functions:
        raise ApiError(
            422,
            "function_not_relayed_here",
            f"this endpoint relays {', '.join(sorted(functions))}, not {function}",
        )
    return tx, function


def checked_approval(
    services: Services, raw_hex: str | None, sender: str
) -> SignedTransaction | None:
    """An optional token ``approve`` of the router, signed by ``sender``."""
    if raw_hex is None:
        return None
    tx, _ = checked(services, raw_hex, sender, {"approve"})
    if tx.to != services.city.token.address:
        raise ApiError(422, "invalid_approval", "the approval must be the city token's approve")
    spender = "0x" + tx.data[16:36].hex()
    if len(tx.data) < 68 or to_checksum_address(spender) != services.city.payments.address:
        raise ApiError(422, "invalid_approval", "the approval must name the payment router")
    return tx


def submit(
    services: Services, tx: SignedTransaction, function: str, approve: SignedTransaction | None
) -> tuple[int, RelayResult]:
    """Relay (an approval first, then) ``tx``: 201 when mined, 202 while still pending."""
    wait = services.settings.relay_wait
    chain = services.city.chain
    approve_hash = None
    if approve is not None:
        approved = relay(chain, approve, wait=wait)
        approve_hash = "0x" + approved.tx_hash.hex()
        if not approved.confirmed:
            raise ApiError(
                409,
                "approval_pending",
                f"the approval {approve_hash} is not mined yet: retry with the same request",
            )
    result = relay(chain, tx, wait=wait)
    status = "confirmed" if result.confirmed else "pending"
    return (201 if result.confirmed else 202), RelayResult(
        tx_hash="0x" + result.tx_hash.hex(),
        function=function,
        status=status,
        block_number=result.block_number,
        approve_tx_hash=approve_hash,
    )


def merchant_relay(
    services: Services, raw_hex: str, approve_hex: str | None, merchant: str, function: str
) -> tuple[int, RelayResult]:
    """A merchant's own signed ``function`` call (after its optional approval), relayed."""
    tx, called = checked(services, raw_hex, merchant, {function})
    return submit(services, tx, called, checked_approval(services, approve_hex, merchant))


class SentTransaction(Protocol):
    """What a relay's answer says of the transaction it sent (RelayResult, CastReceipt)."""

    tx_hash: str
    status: str
    block_number: int | None


Sent = TypeVar("Sent", bound=BaseModel)


def recheck(
    services: Services, kind: type[Sent], stored: Any, again: Callable[[], tuple[int, Sent]]
) -> tuple[int, Sent]:
    """A repeat of a relay answered ``202`` (sent, not mined in the relay wait): look again.

    Mined since: ``201``. Still pending, or forgotten by a node that crashed while this
    process still holds the signed bytes (:class:`ledger.chain.Chain` sends them again as it
    waits): ``202``, or ``201`` if it is mined within the wait. Forgotten and its bytes gone
    with a restarted API: sent anew (``again``), which is safe because nothing of it exists
    anywhere to be mined twice."""
    answer = kind.model_validate(stored)
    sent = cast(SentTransaction, answer)
    chain = services.city.chain
    tx_hash = HexBytes(sent.tx_hash)
    if not chain.in_flight(tx_hash) and not chain.knows(tx_hash):
        return again()
    receipt = chain.settled(tx_hash, services.settings.relay_wait)
    if receipt is None:
        return 202, answer
    update = {"status": "confirmed", "block_number": int(receipt["blockNumber"])}
    return 201, answer.model_copy(update=update)
