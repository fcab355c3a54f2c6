"""Request and response bodies (the tables are in :mod:`api.models` and the index models)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from ledger.payments.states import InvoiceStatus, PaymentStatus, RedemptionState
from ledger.voting.counting import BallotStatus
from ledger.voting.crypto.context import MAX_BALLOT_BYTES

ADDRESS_PATTERN = r"^0x[0-9a-fA-F]{40}$"
"""Where an address is a parameter or field: its shape (checksums are checked by
:func:`ledger.types.parse_address`, a 422 ``invalid_address``)."""

Address = Annotated[
    str, StringConstraints(pattern=ADDRESS_PATTERN), Field(examples=["0x" + "ab" * 20])
]
Hash32 = Annotated[
    str, StringConstraints(pattern=r"^0x[0-9a-fA-F]{64}$"), Field(examples=["0x" + "cd" * 32])
]
HexBytes = Annotated[
    str,
    StringConstraints(pattern=r"^0x([0-9a-fA-F]{2})+$", max_length=32_768),
    Field(description="0x-prefixed hex"),
]
Amount = Annotated[
    int,
    Field(
        strict=True,  # a JSON true is not ₩1, nor 1.0 a whole won
        ge=1,
        le=10**15,
        description="Whole won (1 token = ₩1).",
    ),
]

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
    status: InvoiceStatus
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
    status: InvoiceStatus
    description: str | None = Field(
        description="The merchant's note, while the invoice is open (its reference is public "
        "in the chain's events once it is paid or cancelled)."
    )
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
    status: PaymentStatus
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
    status: RedemptionState
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


# -- elections --------------------------------------------------------------------------------
"""The largest ballot (spec section 5): 32 options, 0 to 32 of them chosen (8,322 bytes)."""
BallotHex = Annotated[
    str,
    StringConstraints(pattern=r"^0x([0-9a-fA-F]{2})+$", max_length=2 + 2 * MAX_BALLOT_BYTES),
    Field(description="The encrypted ballot, 0x-prefixed hex, made and proved in the wallet."),
]
Signature = Annotated[
    str,
    StringConstraints(pattern=r"^0x[0-9a-fA-F]{130}$"),
    Field(description="65-byte signature (r, s, v), 0x-prefixed hex."),
]
ElectionKindName = Literal["secret_ballot", "public_poll"]
ElectionPhaseName = Literal["setup", "open", "closed", "tallied"]
PublishedFileStatus = Literal["published", "missing", "mismatch"]


class ElectionSummary(BaseModel):
    id: int
    kind: ElectionKindName
    phase: ElectionPhaseName
    accepting_ballots: bool = Field(
        description="Open, and the next block falls inside the voting window."
    )
    title: str | None = Field(description="From the published manifest (null if not here).")
    method: str | None
    opens_at: int = Field(description="First second ballots are accepted (block time).")
    closes_at: int = Field(description="First second they are not any more (block time).")
    voter_count: int = Field(description="Voters who cast at least one ballot.")
    eligible_count: int


class ElectionOptionPublic(BaseModel):
    number: int = Field(description="The option number ballots and votes use (0-based).")
    label: str
    cost: int | None = Field(description="A project's cost in won (participatory budgets).")


class ManifestPublic(BaseModel):
    title: str
    method: str
    public: bool
    min_selections: int
    max_selections: int
    budget: int | None
    options: list[ElectionOptionPublic]


class ElectionConfigPublic(BaseModel):
    option_count: int
    min_selections: int
    max_selections: int
    threshold: int = Field(description="Trustees needed to decrypt (0 for a public poll).")
    opens_at: int
    closes_at: int
    quorum: int
    eligible_count: int
    eligibility_root: str
    eligibility_list_hash: str = Field(description="keccak256 of the eligibility file.")
    manifest_hash: str = Field(description="keccak256 of the manifest file.")
    reward_amount: int
    ballot_length: int = Field(description="The exact size of a secret ballot, in bytes.")


class TrusteePublic(BaseModel):
    index: int
    address: str
    committed: bool
    shares_posted: bool
    decrypted: bool


class ElectionResultPublic(BaseModel):
    election_id: int
    counts: list[int]
    labels: list[str] | None = Field(description="The options' labels, if the manifest is here.")
    turnout: int = Field(description="Counted ballots (public polls: voters).")
    eligible_count: int
    quorum: int
    quorum_met: bool
    tally_hash: str = Field(description="keccak256 of the summed ciphertexts (0 for a poll).")
    published_at: int


class ElectionPublic(BaseModel):
    id: int
    kind: ElectionKindName
    phase: ElectionPhaseName
    accepting_ballots: bool
    chain_id: int
    contract: str
    created_block: int
    config: ElectionConfigPublic
    trustees: list[TrusteePublic]
    election_key: str | None = Field(description="The election public key (secret ballots).")
    voter_count: int
    manifest: ManifestPublic | None = Field(description="The published manifest, if it is here.")
    manifest_file: PublishedFileStatus
    eligibility_file: PublishedFileStatus
    live_counts: list[int] | None = Field(description="A public poll's counts now.")
    result: ElectionResultPublic | None


class EligibilityProofPublic(BaseModel):
    election_id: int
    address: str
    eligible: bool
    proof: list[str] = Field(description="Merkle proof against the election's root (if eligible).")
    root: str


class BallotPublic(BaseModel):
    """One entry of a vote's bulletin board: a secret ballot or a public-poll vote."""

    voter: str
    sequence: int = Field(description="The voter's n-th ballot; the last one is considered.")
    tracking_code: str | None = Field(description="keccak256 of the ballot (secret ballots).")
    choices: list[int] | None = Field(description="The options chosen (public polls).")
    block_number: int
    block_timestamp: int
    tx_hash: str
    log_index: int
    status: BallotStatus = Field(
        description="While open: live or superseded; once closed: counted, superseded or void."
    )
    reason: str | None = Field(default=None, description="Why a void ballot does not count.")


class BallotDetail(BallotPublic):
    ballot: str | None = Field(description="The encrypted ballot's bytes (secret ballots).")


class BallotRelayRequest(BaseModel):
    voter: Address
    ballot: BallotHex
    deadline: int = Field(ge=1, lt=2**256, description="The Ballot authorization's deadline.")
    signature: Signature = Field(
        description="The voter's EIP-712 `Ballot` signature for its next sequence number."
    )


class VoteRelayRequest(BaseModel):
    voter: Address
    choices: list[Annotated[int, Field(ge=0, le=31)]] = Field(
        max_length=32, description="The option numbers chosen (0-based)."
    )
    deadline: int = Field(ge=1, lt=2**256, description="The Vote authorization's deadline.")
    signature: Signature = Field(
        description="The voter's EIP-712 `Vote` signature for its next sequence number."
    )


class CastReceipt(BaseModel):
    election_id: int
    voter: str
    sequence: int = Field(description="The sequence number this ballot or vote is cast as.")
    tracking_code: str | None = Field(description="keccak256 of the ballot (secret ballots).")
    choices: list[int] | None = Field(description="The options voted for (public polls).")
    function: Literal["castBallotFor", "castVoteFor"]
    tx_hash: str
    status: Literal["pending", "confirmed"]
    block_number: int | None
