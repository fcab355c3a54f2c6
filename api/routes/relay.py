"""Relay what residents (and merchants) signed in their own wallets: the API holds no key of
theirs. A raw transaction must be signed by the caller and call an allowed function of the
city token or the payment router; a signed Pay authorization (with an optional permit) is
submitted through ``payFor`` by the API's service account."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from hexbytes import HexBytes
from sqlmodel import Session

from api import relaying
from api.core import scopes
from api.core.errors import ApiError, forbidden
from api.deps import CurrentPrincipal, ServicesDep, SessionDep
from api.idempotency import IdempotencyDep
from api.relaying import PENDING
from api.schemas import PayForRequest, RawTransaction, RelayResult
from api.services import Services
from ledger.contracts.token import Permit
from ledger.exceptions import InvoiceClosedError
from ledger.indexer.models import Payment as IndexedPayment
from ledger.payments.orders import Order, pay_typed_data
from ledger.relay import typed_data_signer

router = APIRouter(prefix="/relay", tags=["relay"])


@router.post("/transactions", status_code=201, response_model=RelayResult, responses=PENDING)
def relay_transaction(
    body: RawTransaction,
    principal: CurrentPrincipal,
    session: SessionDep,
    services: ServicesDep,
    idempotency: IdempotencyDep,
) -> JSONResponse:
    """Relay a transaction the caller signed (token transfer/approve, router pay and the
    merchant's own calls): 201 once mined, 202 if still pending."""
    principal.require(scopes.RELAY)
    if principal.address is None:
        raise forbidden("only an account holder relays its own transactions")
    sender = principal.address

    def send() -> tuple[int, RelayResult]:
        functions = relaying.TOKEN_FUNCTIONS + relaying.ROUTER_FUNCTIONS
        tx, function = relaying.checked(services, body.raw_transaction, sender, functions)
        return relaying.submit(services, tx, function, None)

    # A repeat of a pending answer relays the same bytes again: mined, known or lost, relay()
    # answers what is true (and sends them again if the node forgot them).
    return idempotency.run(session, body, send, recheck=lambda _stored: send())


@router.post("/pay", status_code=201, response_model=RelayResult, responses=PENDING)
def relay_pay(
    body: PayForRequest,
    principal: CurrentPrincipal,
    session: SessionDep,
    services: ServicesDep,
    idempotency: IdempotencyDep,
) -> JSONResponse:
    """Pay an invoice with the payer's signed Pay authorization (and permit) via `payFor`.

    One relay per invoice at a time: a second waits for the first and is then refused by its
    dry run (`422 PaymentRouterInvoicePaid`) before anything is sent. A retry of a payment that
    went through (after a receipt timeout or a lost answer) gets `200` with that payment."""
    principal.require(scopes.RELAY)
    from eth_utils import to_checksum_address

    payer = to_checksum_address(body.payer)
    if principal.address != payer:
        raise forbidden("you may relay only your own payments")

    def send() -> tuple[int, RelayResult]:
        order = Order(
            body.order.merchant,
            body.order.amount,
            body.order.valid_until,
            bytes.fromhex(body.order.salt[2:]),
        )
        _check_authorization(services.router_address, services.chain_id, payer, order, body)
        chain = services.city.chain
        with services.invoice_locks.hold(order.ref):
            try:
                tx_hash = _send_pay_for(services, payer, order, body)
            except InvoiceClosedError:
                settled = _paid_by(services, session, payer, order)
                if settled is None:
                    raise
                return 200, settled  # a retry of a payment that went through: say so
            receipt = chain.settled(tx_hash, services.settings.relay_wait)
        return (201 if receipt else 202), RelayResult(
            tx_hash=tx_hash.to_0x_hex(),
            function="payFor",
            status="confirmed" if receipt else "pending",
            block_number=receipt["blockNumber"] if receipt else None,
        )

    return idempotency.run(
        session,
        body,
        send,
        recheck=lambda stored: relaying.recheck(services, RelayResult, stored, send),
    )


def _send_pay_for(services: Services, payer: str, order: Order, body: PayForRequest) -> HexBytes:
    """``payFor`` sent by the service account (its dry run refuses a payment the router
    would, with the contract's error, before anything is sent)."""
    router = services.city.payments
    permit = (
        Permit(
            owner=payer,
            spender=router.address,
            value=order.amount,
            deadline=body.permit.deadline,
            v=body.permit.v,
            r=bytes.fromhex(body.permit.r[2:]),
            s=bytes.fromhex(body.permit.s[2:]),
        )
        if body.permit is not None
        else None
    )
    return router.send_pay_for(
        services.service_signer,
        payer,
        order,
        body.deadline,
        bytes.fromhex(body.signature[2:]),
        permit,
    )


def _paid_by(services: Services, session: Session, payer: str, order: Order) -> RelayResult | None:
    """The payment of ``order`` if ``payer`` made it already (a retry after a receipt timeout
    or a lost answer), read from the index, else from the chain's event."""
    router = services.city.payments
    payment = router.payment_of(order.ref)
    if payment is None or payment.payer != payer:
        return None
    ref = "0x" + order.ref.hex()
    indexed = session.get(IndexedPayment, ref)
    if indexed is not None:
        return RelayResult(
            tx_hash=indexed.tx_hash,
            function="payFor",
            status="confirmed",
            block_number=indexed.block_number,
        )
    settled = router.events("PaymentSettled", argument_filters={"invoiceRef": order.ref})
    event = settled[-1]
    return RelayResult(
        tx_hash=event["transactionHash"].to_0x_hex(),
        function="payFor",
        status="confirmed",
        block_number=event["blockNumber"],
    )


def _check_authorization(
    router: str, chain_id: int, payer: str, order: Order, body: PayForRequest
) -> None:
    """Refuse a Pay signature that is not the payer's before anything is sent."""
    typed = pay_typed_data(router, chain_id, payer, order.ref, body.deadline)
    if typed_data_signer(typed, bytes.fromhex(body.signature[2:])) != payer:
        raise ApiError(
            422,
            "invalid_pay_signature",
            f"the Pay authorization is not signed by {payer} for this order, router and chain",
        )
