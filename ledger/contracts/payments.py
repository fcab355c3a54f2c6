"""PaymentRouter: merchant payments with the fee split, refunds and two-step redemption.

The arithmetic is :mod:`ledger.payments.fees`, invoices are :class:`ledger.payments.orders.Order`;
this wrapper only talks to the contract. Writes that spend a signer's tokens (``pay``,
``refund``, ``request_redemption``) first approve the router for exactly what the call takes
when the signer's allowance falls short, so one method call is one complete operation.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from hexbytes import HexBytes
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD
from web3.types import EventData, TxReceipt

from ledger.contracts.base import ContractWrapper
from ledger.contracts.token import CityToken, Permit
from ledger.exceptions import ChainError, InputError
from ledger.payments.fees import FeeError, RefundState, Split, refund_split
from ledger.payments.orders import Order, pay_typed_data
from ledger.types import KRW, RedemptionStatus, reference, reference_text

_ZERO_REF = bytes(32)


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """The fee of merchants without a category or own fee, and the points' share of every fee."""

    default_fee_bps: int
    point_share_bps: int


@dataclass(frozen=True, slots=True)
class Payment:
    """A settled payment (``IPaymentRouter.Payment``) and how much of it was refunded."""

    ref: bytes
    payer: str
    merchant: str
    amount: KRW
    fee: KRW
    points: KRW
    city_share: KRW
    refunded: KRW
    points_clawed_back: KRW
    city_share_returned: KRW
    paid_at: int
    """Block timestamp of the payment (unix seconds)."""

    @property
    def split(self) -> Split:
        return Split(self.amount, self.amount - self.fee, self.fee, self.points, self.city_share)

    @property
    def refund_state(self) -> RefundState:
        return RefundState(self.refunded, self.points_clawed_back, self.city_share_returned)

    @property
    def refundable(self) -> KRW:
        return KRW(self.amount - self.refunded)


@dataclass(frozen=True, slots=True)
class Redemption:
    """A merchant's redemption request (``IPaymentRouter.Redemption``)."""

    id: int
    merchant: str
    amount: KRW
    status: RedemptionStatus
    settlement_ref: str | None
    """The bank settlement it was burned against (confirmed requests only)."""


@dataclass(frozen=True, slots=True)
class RedemptionRequest:
    """A ``RedemptionRequested`` event, with the request's status now."""

    redemption: Redemption
    block: int
    tx_hash: str


@dataclass(frozen=True, slots=True)
class Settlement:
    """A ``PaymentSettled`` event.

    ``amount = merchant_amount + fee`` and ``fee = points + city_share``.
    """

    ref: bytes
    payer: str
    merchant: str
    amount: KRW
    merchant_amount: KRW
    fee: KRW
    points: KRW
    city_share: KRW
    block: int
    tx_hash: str

    @property
    def split(self) -> Split:
        return Split(self.amount, self.merchant_amount, self.fee, self.points, self.city_share)


@dataclass(frozen=True, slots=True)
class Refund:
    """A ``PaymentRefunded`` event: ``amount = from_merchant + from_city + points_clawed_back``."""

    ref: bytes
    payer: str
    merchant: str
    amount: KRW
    from_merchant: KRW
    from_city: KRW
    points_clawed_back: KRW
    refunded_total: KRW
    block: int
    tx_hash: str

    @property
    def payer_inflow(self) -> KRW:
        """What the payer received: the refund less the points clawed back."""
        return KRW(self.from_merchant + self.from_city)


class PaymentRouter(ContractWrapper):
    ARTIFACT = "PaymentRouter"

    @cached_property
    def token(self) -> CityToken:
        """The token the router moves (read from the router once)."""
        return CityToken(self.chain, str(self._read("token")))

    # -- reads -------------------------------------------------------------------------------
    def quote(self, merchant: str, amount: int) -> Split:
        """The split of a payment of ``amount`` to ``merchant`` at today's fees."""
        fee, points, city_share = self._read("quote", merchant, amount)
        return Split(amount, amount - fee, fee, points, city_share)

    def fee_bps_of(self, merchant: str) -> int:
        return int(self._read("feeBpsOf", merchant))

    def fee_schedule(self) -> FeeSchedule:
        default_fee_bps, point_share_bps = self._read("feeSchedule")
        return FeeSchedule(int(default_fee_bps), int(point_share_bps))

    def category_fee_of(self, category: int) -> int | None:
        """The fee of ``category`` in basis points, or None if it has none (default fee)."""
        fee_bps, is_set = self._read("categoryFeeOf", category)
        return int(fee_bps) if is_set else None

    def merchant_category_of(self, merchant: str) -> int:
        return int(self._read("merchantCategoryOf", merchant))

    def merchant_fee_of(self, merchant: str) -> int | None:
        """The merchant's own fee in basis points, or None if it pays its category's."""
        fee_bps, enabled = self._read("merchantFeeOf", merchant)
        return int(fee_bps) if enabled else None

    def invoice_ref_of(self, order: Order) -> bytes:
        """The reference the contract computes for ``order`` (equals ``order.ref``)."""
        return bytes(self._read("invoiceRefOf", order.as_tuple()))

    def payment_of(self, ref: bytes) -> Payment | None:
        """The payment made with ``ref``, or None if that invoice was never paid."""
        (payer, merchant, amount, fee, points, city, refunded, clawed, returned, paid_at) = (
            self._read("paymentOf", ref)
        )
        if int(payer, 16) == 0:
            return None
        return Payment(
            bytes(ref),
            to_checksum_address(payer),
            to_checksum_address(merchant),
            KRW(amount),
            KRW(fee),
            KRW(points),
            KRW(city),
            KRW(refunded),
            KRW(clawed),
            KRW(returned),
            int(paid_at),
        )

    def is_cancelled(self, ref: bytes) -> bool:
        return bool(self._read("isCancelled", ref))

    def redemption_of(self, redemption_id: int) -> Redemption | None:
        """The redemption request ``redemption_id``, or None if there is none."""
        merchant, amount, status, settlement_ref = self._read("redemptionOf", redemption_id)
        if RedemptionStatus(status) is RedemptionStatus.NONE:
            return None
        ref = bytes(settlement_ref)
        return Redemption(
            redemption_id,
            to_checksum_address(merchant),
            KRW(amount),
            RedemptionStatus(status),
            None if ref == _ZERO_REF else reference_text(ref),
        )

    def redemption_count(self) -> int:
        return int(self._read("redemptionCount"))

    def city_fees(self) -> KRW:
        """The city's fee share the router holds (pays the city's part of refunds)."""
        return KRW(self._read("cityFees"))

    def escrowed(self) -> KRW:
        """Merchant tokens held for redemptions awaiting the treasury's decision."""
        return KRW(self._read("escrowed"))

    # -- paying --------------------------------------------------------------------------------
    def pay(self, payer: LocalAccount, order: Order) -> TxReceipt:
        """Pay ``order`` from ``payer``'s balance (approving the router first if needed)."""
        split = self.quote(order.merchant, order.amount)
        self._ensure_allowance(payer, split.payer_outflow)
        return self._send(payer, "pay", order.as_tuple())

    def sign_pay(self, payer: LocalAccount, ref: bytes, deadline: int) -> bytes:
        """The payer's EIP-712 authorization for anyone to relay the payment of ``ref``."""
        typed = pay_typed_data(self.address, self.chain.chain_id, payer.address, ref, deadline)
        signed = Account.sign_typed_data(
            payer.key,
            domain_data=typed["domain"],
            message_types=typed["types"],
            message_data=typed["message"],
        )
        return bytes(signed.signature)

    def sign_permit(self, payer: LocalAccount, order: Order, *, valid_for: int = 3600) -> Permit:
        """The payer's EIP-2612 permit for :meth:`pay_for`: ``order.amount`` to the router."""
        return self.token.sign_permit(payer, self.address, order.amount, valid_for=valid_for)

    def pay_for(
        self,
        relayer: LocalAccount,
        payer_address: str,
        order: Order,
        deadline: int,
        signature: bytes,
        permit: Permit | None = None,
    ) -> TxReceipt:
        """Relay the payment of ``order`` that ``payer_address`` signed with :meth:`sign_pay`,
        with the payer's permit (see :meth:`sign_permit`) unless it approved the router already;
        waits for the receipt."""
        call = self._pay_for_call(payer_address, order, deadline, signature, permit)
        return self.chain.transact(relayer, call)

    def send_pay_for(
        self,
        relayer: LocalAccount,
        payer_address: str,
        order: Order,
        deadline: int,
        signature: bytes,
        permit: Permit | None = None,
    ) -> HexBytes:
        """:meth:`pay_for` without waiting (the dry run still comes first): the hash sent."""
        call = self._pay_for_call(payer_address, order, deadline, signature, permit)
        return self.chain.send(relayer, call)

    def _pay_for_call(
        self,
        payer_address: str,
        order: Order,
        deadline: int,
        signature: bytes,
        permit: Permit | None,
    ) -> ContractFunction:
        payer = to_checksum_address(payer_address)
        permit_args: tuple[int, int, bytes, bytes] = (0, 0, _ZERO_REF, _ZERO_REF)
        if permit is not None:
            if to_checksum_address(permit.owner) != payer:
                raise InputError(f"the permit is {permit.owner}'s, not the payer {payer}'s")
            if to_checksum_address(permit.spender) != self.address:
                raise InputError(f"the permit is for {permit.spender}, not the router")
            if permit.value != order.amount:
                raise InputError(
                    f"the permit allows ₩{permit.value:,}; the router applies one of exactly "
                    f"the invoice amount, ₩{order.amount:,}"
                )
            permit_args = (permit.deadline, permit.v, permit.r, permit.s)
        return self._fn("payFor", payer, order.as_tuple(), deadline, signature, *permit_args)

    def cancel_invoice(self, merchant: LocalAccount, order: Order) -> TxReceipt:
        return self._send(merchant, "cancelInvoice", order.as_tuple())

    def cancel_invoice_for(self, operator: LocalAccount, order: Order) -> TxReceipt:
        """Cancel a merchant's invoice as the city's payment service (PAYMENT_OPERATOR)."""
        return self._send(operator, "cancelInvoiceFor", order.as_tuple())

    def refund(self, merchant: LocalAccount, ref: bytes, amount: int) -> TxReceipt:
        """Refund ``amount`` of the payment ``ref``, approving the merchant's part first.

        Anything the contract would refuse (unknown payment, not its merchant, too much) is
        sent as is, so the contract's own error explains it (nothing is mined: the dry run fails).
        """
        payment = self.payment_of(ref)
        if payment is not None and payment.merchant == merchant.address:
            try:
                needed = refund_split(payment.split, payment.refund_state, amount).from_merchant
            except FeeError:
                needed = 0
            if needed:
                self._ensure_allowance(merchant, needed)
        return self._send(merchant, "refund", ref, amount)

    # -- redemption and the city's fees ----------------------------------------------------------
    def request_redemption(self, merchant: LocalAccount, amount: int) -> int:
        """Move ``amount`` of the merchant's tokens into escrow; returns the redemption id."""
        if amount > 0:
            self._ensure_allowance(merchant, amount)
        receipt = self._send(merchant, "requestRedemption", amount)
        (event,) = self._decoded(receipt, "RedemptionRequested")
        return int(event["args"]["redemptionId"])

    def confirm_redemption(
        self, treasury: LocalAccount, redemption_id: int, settlement_ref: str
    ) -> TxReceipt:
        """Burn the escrow of ``redemption_id`` against the bank settlement (TREASURY)."""
        return self._send(treasury, "confirmRedemption", redemption_id, reference(settlement_ref))

    def reject_redemption(
        self, treasury: LocalAccount, redemption_id: int, reason: str
    ) -> TxReceipt:
        """Return the escrow of ``redemption_id`` to its merchant (TREASURY)."""
        return self._send(treasury, "rejectRedemption", redemption_id, reference(reason))

    def withdraw_city_fees(self, treasury: LocalAccount, to: str, amount: int) -> TxReceipt:
        return self._send(treasury, "withdrawCityFees", to, amount)

    def redemption_requests(self, *, from_block: int = 0) -> list[RedemptionRequest]:
        """Every redemption ever requested (from the events), with its status now."""
        found = []
        for event in self.events("RedemptionRequested", from_block=from_block):
            redemption = self.redemption_of(int(event["args"]["redemptionId"]))
            if redemption is not None:
                found.append(
                    RedemptionRequest(
                        redemption, event["blockNumber"], event["transactionHash"].to_0x_hex()
                    )
                )
        return found

    # -- fees (MERCHANT_ADMIN) -------------------------------------------------------------------
    def set_fee_schedule(
        self, signer: LocalAccount, default_fee_bps: int, point_share_bps: int
    ) -> TxReceipt:
        return self._send(signer, "setFeeSchedule", default_fee_bps, point_share_bps)

    def set_category_fee(self, signer: LocalAccount, category: int, fee_bps: int) -> TxReceipt:
        return self._send(signer, "setCategoryFee", category, fee_bps)

    def set_merchant_category(
        self, signer: LocalAccount, merchant: str, category: int
    ) -> TxReceipt:
        return self._send(signer, "setMerchantCategory", merchant, category)

    def set_merchant_fee(
        self, signer: LocalAccount, merchant: str, fee_bps: int, enabled: bool = True
    ) -> TxReceipt:
        """Give ``merchant`` its own fee (``enabled=False``: back to its category's)."""
        return self._send(signer, "setMerchantFee", merchant, fee_bps, enabled)

    # -- events in a receipt ---------------------------------------------------------------------
    def settlement_in(self, receipt: TxReceipt) -> Settlement:
        """The ``PaymentSettled`` event of a ``pay``/``payFor`` transaction."""
        (event,) = self._decoded(receipt, "PaymentSettled")
        a = event["args"]
        return Settlement(
            bytes(a["invoiceRef"]),
            a["payer"],
            a["merchant"],
            KRW(a["amount"]),
            KRW(a["merchantAmount"]),
            KRW(a["fee"]),
            KRW(a["points"]),
            KRW(a["cityShare"]),
            event["blockNumber"],
            event["transactionHash"].to_0x_hex(),
        )

    def refund_in(self, receipt: TxReceipt) -> Refund:
        """The ``PaymentRefunded`` event of a ``refund`` transaction."""
        (event,) = self._decoded(receipt, "PaymentRefunded")
        a = event["args"]
        return Refund(
            bytes(a["invoiceRef"]),
            a["payer"],
            a["merchant"],
            KRW(a["amount"]),
            KRW(a["fromMerchant"]),
            KRW(a["fromCity"]),
            KRW(a["pointsClawedBack"]),
            KRW(a["refundedTotal"]),
            event["blockNumber"],
            event["transactionHash"].to_0x_hex(),
        )

    def _decoded(self, receipt: TxReceipt, name: str) -> list[EventData]:
        events = getattr(self.contract.events, name)().process_receipt(receipt, errors=DISCARD)
        found = [e for e in events if e["address"] == self.address]
        if len(found) != 1:
            raise ChainError(
                f"expected one {name} event from the router in transaction "
                f"{receipt['transactionHash'].to_0x_hex()}, found {len(found)}"
            )
        return found

    def _ensure_allowance(self, owner: LocalAccount, needed: int) -> None:
        """Approve the router for exactly ``needed`` if ``owner``'s allowance is short of it."""
        if self.token.allowance(owner.address, self.address) < needed:
            self.token.approve(owner, self.address, needed)
