"""Request and response bodies (the tables are in :mod:`api.models` and the index models)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

Address = Annotated[
    str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{40}$"), Field(examples=["0x" + "ab" * 20])
]
Hash32 = Annotated[
    str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{64}$"), Field(examples=["0x" + "cd" * 32])
]
HexBytes = Annotated[
    str,
    StringConstraints(pattern=r"^0x([0-9a-fA-F]{2})+$", max_length=32_768),
    Field(description="0x-prefixed hex"),
]
Amount = Annotated[int, Field(ge=1, le=10**15, description="Whole won (1 token = ₩1).")]

EventType = Literal[
    "payment.settled", "payment.refunded", "invoice.expired", "settlement.confirmed"
]
EVENT_TYPES: tuple[EventType, ...] = (
    "payment.settled",
    "payment.refunded",
    "invoice.expired",
    "settlement.confirmed",
)


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class ChainStatus(BaseModel):
    chain_id: int | None
    reachable: bool
    head: int | None
    indexed_block: int | None
    lag: int | None
    token: str | None
    router: str | None
    service_signer: str | None


# -- auth -------------------------------------------------------------------------------------
class NonceRequest(BaseModel):
    address: Address | None = Field(
        default=None, description="If given, the answer includes the message to sign."
    )


class NonceResponse(BaseModel):
    nonce: str
    expires_at: datetime
    domain: str
    uri: str
    chain_id: int
    statement: str
    message: str | None = Field(description="The EIP-4361 message to sign (if address given).")


class VerifyRequest(BaseModel):
    message: Annotated[str, StringConstraints(min_length=1, max_length=4000)]
    signature: Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{130}$")]


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime
    expires_in: int
    address: str


# -- accounts ---------------------------------------------------------------------------------
class AccountPublic(BaseModel):
    address: str
    balance: int
    points: int
    kind: str | None
    status: str | None
    district: int | None
    indexed_block: int | None


class TransferPublic(BaseModel):
    tx_hash: str
    log_index: int
    block_number: int
    timestamp: int
    sender: str
    recipient: str
    amount: int
    direction: Literal["in", "out", "self"]


# -- invoices ---------------------------------------------------------------------------------
class InvoiceCreate(BaseModel):
    amount: Amount
    valid_for: int | None = Field(
        default=None, ge=1, description="Seconds from now it may be paid (default 15 min)."
    )
    valid_until: int | None = Field(
        default=None, ge=1, lt=2**63, description="Unix time it may be paid until (inclusive)."
    )
    description: Annotated[str, StringConstraints(max_length=200)] | None = None
    external_id: Annotated[str, StringConstraints(max_length=100)] | None = Field(
        default=None, description="The merchant's own order number."
    )


class OrderPublic(BaseModel):
    """The on-chain ``IPaymentRouter.Order``; its keccak is the reference."""

    merchant: str
    amount: int
    valid_until: int
    salt: str


class QrPublic(BaseModel):
    text: str = Field(description="The payment URI, the text to encode in a QR code.")
    svg: str | None = Field(default=None, description="An SVG QR code (with ?qr=svg).")


class InvoicePublic(BaseModel):
    ref: str
    merchant: str
    amount: int
    valid_until: int | None
    status: Literal["open", "paid", "cancelled", "expired"]
    description: str | None
    external_id: str | None
    created_at: datetime
    payer: str | None
    paid_tx: str | None
    paid_block: int | None
    order: OrderPublic | None
    payment_uri: str | None
    qr: QrPublic | None
    cancel_tx: str | None = None


class PaymentRequestPublic(BaseModel):
    """What a payer's wallet needs to pay an invoice, and nothing about who else paid what."""

    ref: str
    merchant: str
    amount: int
    valid_until: int
    status: Literal["open", "paid", "cancelled", "expired"]
    description: str | None
    payment_uri: str


# -- payments and refunds ---------------------------------------------------------------------
class PaymentPublic(BaseModel):
    ref: str
    payer: str
    merchant: str
    amount: int
    merchant_amount: int
    fee: int
    points: int
    city_share: int
    refunded: int
    points_clawed_back: int
    city_share_returned: int
    status: str
    block_number: int
    tx_hash: str
    timestamp: int


class RefundPublic(BaseModel):
    id: int
    ref: str
    payer: str
    merchant: str
    amount: int
    from_merchant: int
    from_city: int
    points_clawed_back: int
    refunded_total: int
    block_number: int
    tx_hash: str
    log_index: int
    timestamp: int


class RedemptionPublic(BaseModel):
    id: int
    merchant: str
    amount: int
    status: str
    settlement_ref: str | None
    reason: str | None
    requested_block: int
    requested_at: int
    decided_block: int | None
    decided_at: int | None


# -- relays -----------------------------------------------------------------------------------
class RawTransaction(BaseModel):
    raw_transaction: HexBytes = Field(description="A transaction signed by the caller's key.")


class MerchantRelay(RawTransaction):
    approve_transaction: HexBytes | None = Field(
        default=None,
        description="Optionally the merchant's signed token approve(router, …), sent first.",
    )


class RelayResult(BaseModel):
    tx_hash: str
    function: str
    status: Literal["pending", "confirmed"]
    block_number: int | None
    approve_tx_hash: str | None = None


class OrderIn(BaseModel):
    merchant: Address
    amount: Amount
    valid_until: int = Field(ge=1, lt=2**64)
    salt: Hash32


class PermitIn(BaseModel):
    deadline: int = Field(ge=1, lt=2**256)
    v: int = Field(ge=0, le=255)
    r: Hash32
    s: Hash32


class PayForRequest(BaseModel):
    order: OrderIn
    payer: Address
    deadline: int = Field(ge=1, lt=2**256, description="The Pay authorization's deadline.")
    signature: Annotated[str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{130}$")]
    permit: PermitIn | None = None


# -- reports ----------------------------------------------------------------------------------
class DailyReportPublic(BaseModel):
    merchant: str
    day: date
    timezone: str
    payment_count: int
    gross: int
    fees: int
    points: int
    city_share: int
    received: int
    refund_count: int
    refunded: int
    refunded_by_merchant: int
    refunded_by_city: int
    points_clawed_back: int
    net: int
    redemptions_requested: int
    redemptions_confirmed: int
    redemptions_rejected: int
    card_fee_bps: int
    van_fee_bps: int
    card_fees: int
    van_fees: int
    card_merchant_amount: int
    saving_vs_card: int
    indexed_block: int | None


# -- webhooks ---------------------------------------------------------------------------------
class WebhookEndpointCreate(BaseModel):
    url: Annotated[str, StringConstraints(min_length=8, max_length=2048)]
    event_types: list[EventType] = Field(default=list(EVENT_TYPES), min_length=1, max_length=4)
    description: Annotated[str, StringConstraints(max_length=200)] | None = None


class WebhookEndpointPublic(BaseModel):
    id: uuid.UUID
    url: str
    event_types: list[EventType]
    description: str | None
    active: bool
    created_at: datetime
    previous_secret_expires_at: datetime | None


class WebhookEndpointSecret(WebhookEndpointPublic):
    secret: str = Field(description="The signing secret: shown only now, store it.")


class WebhookDeliveryPublic(BaseModel):
    id: int
    event_id: str
    event_type: str
    attempt: int
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int
