// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessManaged} from "@openzeppelin/contracts/access/manager/AccessManaged.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Permit.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {IResidentRegistry} from "../registry/IResidentRegistry.sol";
import {ICityToken} from "../token/ICityToken.sol";
import {IPaymentRouter} from "./IPaymentRouter.sol";

/**
 * @title PaymentRouter
 * @dev Merchant payments in the city token (see {IPaymentRouter} for the invoice model and the
 * exact fee and refund arithmetic, which `ledger/payments/fees.py` mirrors).
 *
 * The router holds tokens for two reasons, counted apart: the city's share of fees ({cityFees}),
 * which pays the city's part of refunds and which the treasury withdraws, and the merchants'
 * redemption escrow ({escrowed}). Its token balance is always `cityFees() + escrowed()`. To hold
 * tokens at all it must be an active account of the registry (the deployment registers it as a
 * `CityService`).
 *
 * Every external function checks, then writes its state and emits its event, and only then calls
 * the token (checks-effects-interactions). The token is the city's own ERC-20 without transfer
 * hooks, so no call can re-enter; should one revert, the whole transaction does.
 *
 * There is no pause of its own: the token's pause stops every payment, refund, redemption and
 * withdrawal (their token transfers revert with `EnforcedPause()`), while cancellations and fee
 * changes, which move no tokens, still work.
 *
 * Restricted functions are authorized by the city's AccessManager. Which role may call which is
 * decided in one place, `FUNCTION_ROLES` in `ledger/roles.py`, which the deployment applies; each
 * function below names its role, and a test keeps those names equal to `FUNCTION_ROLES`.
 */
contract PaymentRouter is IPaymentRouter, AccessManaged, EIP712 {
    using SafeERC20 for IERC20;

    /// @dev The EIP-712 type a payer signs to authorize a relayed payment ({payFor}).
    bytes32 private constant PAY_TYPEHASH = keccak256("Pay(address payer,bytes32 invoiceRef,uint256 deadline)");

    uint256 private constant BPS = 10_000;

    /// @dev A merchant category's fee; `set` distinguishes a fee of 0 from no fee.
    struct CategoryFee {
        uint16 feeBps;
        bool set;
    }

    /// @dev What decides one merchant's fee (one storage slot).
    struct MerchantTerms {
        uint32 category;
        uint16 feeBps;
        bool ownFee;
    }

    IERC20 private immutable _token;

    IResidentRegistry private immutable _registry;

    uint16 private _defaultFeeBps;

    uint16 private _pointShareBps;

    uint256 private _cityFees;

    uint256 private _escrowed;

    uint256 private _redemptionCount;

    mapping(uint32 category => CategoryFee) private _categoryFees;

    mapping(address merchant => MerchantTerms) private _merchantTerms;

    mapping(bytes32 invoiceRef => Payment) private _payments;

    mapping(bytes32 invoiceRef => bool) private _cancelled;

    mapping(uint256 redemptionId => Redemption) private _redemptions;

    /**
     * @dev Creates the router with a default fee of 100 basis points (1 %), all of it returned to
     * the payer as points.
     * @param initialAuthority the city's AccessManager.
     * @param token_ the city token; not zero.
     * @param registry_ the token's resident registry; not zero.
     *
     * Emits a {FeeScheduleSet} event.
     */
    constructor(
        address initialAuthority,
        address token_,
        address registry_
    ) AccessManaged(initialAuthority) EIP712("CityLedger PaymentRouter", "1") {
        if (token_ == address(0) || registry_ == address(0)) revert PaymentRouterZeroAddress();
        if (ICityToken(token_).registry() != registry_) revert PaymentRouterRegistryMismatch(token_, registry_);
        _token = IERC20(token_);
        _registry = IResidentRegistry(registry_);
        _setFeeSchedule(100, uint16(BPS));
    }

    // -- payments -------------------------------------------------------------------------------

    /**
     * @dev Pays the invoice `order` from the caller's balance. The caller must have approved the
     * router for `order.amount - points` (see {quote}) and be active in the registry.
     * @param order an unpaid, uncancelled invoice of an active merchant, not past `validUntil`.
     * @return invoiceRef the invoice reference, also the payment's id.
     *
     * Emits a {PaymentSettled} event (and the token's {Transfer} events).
     */
    function pay(Order calldata order) external returns (bytes32 invoiceRef) {
        address payer = _msgSender();
        Payment memory payment;
        (invoiceRef, payment) = _record(payer, order);
        _collect(payer, payment);
    }

    /**
     * @dev Pays `order` for `payer`, who signed the EIP-712 message
     * `Pay(address payer,bytes32 invoiceRef,uint256 deadline)` for this router (domain
     * "CityLedger PaymentRouter", version "1"); anyone may relay it. A signature authorizes one
     * invoice, which can be paid once, so it cannot be replayed.
     *
     * If `permitDeadline` is not zero, first submits the payer's EIP-2612 permit of `order.amount`
     * tokens to this router. The permit is tried and its failure ignored, as OpenZeppelin
     * recommends against front-running: whoever submitted it first already set the allowance, and
     * if the allowance does not suffice the token's transfer reverts.
     *
     * @param payer the account paying; it signed the authorization and is active.
     * @param order an unpaid, uncancelled invoice of an active merchant, not past `validUntil`.
     * @param deadline the last second the authorization is valid.
     * @param signature the payer's signature of the authorization (65 bytes, or ERC-1271).
     * @return invoiceRef the invoice reference, also the payment's id.
     *
     * Emits a {PaymentSettled} event (and the token's {Transfer} events).
     */
    function payFor(
        address payer,
        Order calldata order,
        uint256 deadline,
        bytes calldata signature,
        uint256 permitDeadline,
        uint8 permitV,
        bytes32 permitR,
        bytes32 permitS
    ) external returns (bytes32 invoiceRef) {
        if (block.timestamp > deadline) revert PaymentRouterAuthorizationExpired(deadline);
        invoiceRef = invoiceRefOf(order);
        bytes32 digest = _hashTypedDataV4(keccak256(abi.encode(PAY_TYPEHASH, payer, invoiceRef, deadline)));
        if (!SignatureChecker.isValidSignatureNowCalldata(payer, digest, signature)) {
            revert PaymentRouterInvalidSignature(payer);
        }
        Payment memory payment;
        (, payment) = _record(payer, order);
        if (permitDeadline != 0) {
            // A failed permit (most often one a front-runner already submitted) is not an error
            // by itself: the allowance it would have set is checked by the transfers below.
            try
                IERC20Permit(address(_token)).permit(
                    payer,
                    address(this),
                    order.amount,
                    permitDeadline,
                    permitV,
                    permitR,
                    permitS
                )
            {} catch {}
        }
        _collect(payer, payment);
    }

    /**
     * @dev Cancels the unpaid invoice `order`; only its merchant may.
     * @param order an invoice neither paid nor cancelled (an expired one may be cancelled).
     *
     * Emits an {InvoiceCancelled} event.
     */
    function cancelInvoice(Order calldata order) external {
        address caller = _msgSender();
        if (caller != order.merchant) revert PaymentRouterNotInvoiceMerchant(caller, order.merchant);
        _cancel(order, caller);
    }

    /**
     * @dev Cancels the unpaid invoice `order` for its merchant. Restricted (PAYMENT_OPERATOR: the
     * city's payment service, which cancels invoices merchants void through it).
     * @param order an invoice neither paid nor cancelled.
     *
     * Emits an {InvoiceCancelled} event.
     */
    function cancelInvoiceFor(Order calldata order) external restricted {
        _cancel(order, _msgSender());
    }

    /**
     * @dev Refunds `amount` of the payment `invoiceRef` to its payer; only its merchant may. The
     * merchant pays `fromMerchant` (it must have approved the router for it), the router pays
     * `fromCity` from the city's fee share, and the payer's points are clawed back by netting them
     * from the refund. See {IPaymentRouter} for the arithmetic.
     * @param invoiceRef a settled payment.
     * @param amount not zero; at most what is not yet refunded.
     *
     * Emits a {PaymentRefunded} event (and the token's {Transfer} events).
     */
    function refund(bytes32 invoiceRef, uint256 amount) external {
        Payment storage payment = _payments[invoiceRef];
        address payer = payment.payer;
        if (payer == address(0)) revert PaymentRouterUnknownPayment(invoiceRef);
        address merchant = payment.merchant;
        address caller = _msgSender();
        if (caller != merchant) revert PaymentRouterNotInvoiceMerchant(caller, merchant);
        if (amount == 0) revert PaymentRouterZeroAmount();
        (uint256 fromMerchant, uint256 fromCity, uint256 pointsClawedBack) = _refundSplit(payment, amount);
        uint256 available = _cityFees;
        if (fromCity > available) revert PaymentRouterInsufficientCityFees(fromCity, available);

        uint256 refundedTotal = payment.refunded + amount;
        payment.refunded = refundedTotal;
        payment.pointsClawedBack += pointsClawedBack;
        payment.cityShareReturned += fromCity;
        // fromCity <= available was checked above.
        unchecked {
            _cityFees = available - fromCity;
        }
        emit PaymentRefunded(
            invoiceRef,
            payer,
            merchant,
            amount,
            fromMerchant,
            fromCity,
            pointsClawedBack,
            refundedTotal
        );

        if (fromMerchant != 0) _token.safeTransferFrom(caller, payer, fromMerchant);
        if (fromCity != 0) _token.safeTransfer(payer, fromCity);
    }

    // -- fees -------------------------------------------------------------------------------------

    /**
     * @dev Sets the fee of merchants without an own or category fee, and the share of every fee
     * returned to the payer as points. Restricted (MERCHANT_ADMIN).
     * @param defaultFeeBps at most 10,000.
     * @param pointShareBps at most 10,000; the rest of each fee is the city's.
     *
     * Emits a {FeeScheduleSet} event.
     */
    function setFeeSchedule(uint16 defaultFeeBps, uint16 pointShareBps) external restricted {
        _setFeeSchedule(defaultFeeBps, pointShareBps);
    }

    /**
     * @dev Sets the fee of merchants in `category` that have no own fee. Restricted (MERCHANT_ADMIN).
     * @param category not 0 (the default category pays the default fee).
     * @param feeBps at most 10,000.
     *
     * Emits a {CategoryFeeSet} event.
     */
    function setCategoryFee(uint32 category, uint16 feeBps) external restricted {
        if (category == 0) revert PaymentRouterInvalidCategory(category);
        _requireBps(feeBps);
        _categoryFees[category] = CategoryFee({feeBps: feeBps, set: true});
        emit CategoryFeeSet(category, feeBps);
    }

    /**
     * @dev Puts `merchant` in `category` (0: the default). Restricted (MERCHANT_ADMIN).
     * @param merchant not zero (it need not be registered yet).
     * @param category any category; one without a fee of its own pays the default fee.
     *
     * Emits a {MerchantCategorySet} event.
     */
    function setMerchantCategory(address merchant, uint32 category) external restricted {
        if (merchant == address(0)) revert PaymentRouterZeroAddress();
        _merchantTerms[merchant].category = category;
        emit MerchantCategorySet(merchant, category);
    }

    /**
     * @dev Gives `merchant` its own fee, which overrides its category's, or removes it.
     * Restricted (MERCHANT_ADMIN).
     * @param merchant not zero.
     * @param feeBps at most 10,000 (stored, but unused while `enabled` is false).
     * @param enabled whether the merchant pays `feeBps` rather than its category's fee.
     *
     * Emits a {MerchantFeeSet} event.
     */
    function setMerchantFee(address merchant, uint16 feeBps, bool enabled) external restricted {
        if (merchant == address(0)) revert PaymentRouterZeroAddress();
        _requireBps(feeBps);
        MerchantTerms storage terms = _merchantTerms[merchant];
        terms.feeBps = feeBps;
        terms.ownFee = enabled;
        emit MerchantFeeSet(merchant, feeBps, enabled);
    }

    // -- redemption and the city's fees -------------------------------------------------------------

    /**
     * @dev Moves `amount` of the caller's tokens into escrow, to be paid out in KRW by the bank.
     * The caller must be an active merchant and have approved the router for `amount`.
     * @param amount not zero, at most the caller's balance.
     * @return redemptionId the request's id (ids start at 1).
     *
     * Emits a {RedemptionRequested} event (and the token's {Transfer}).
     */
    function requestRedemption(uint256 amount) external returns (uint256 redemptionId) {
        address merchant = _msgSender();
        _requireMerchant(merchant);
        if (amount == 0) revert PaymentRouterZeroAmount();
        redemptionId = ++_redemptionCount;
        _redemptions[redemptionId] = Redemption({
            merchant: merchant,
            amount: amount,
            status: RedemptionStatus.Requested,
            settlementRef: bytes32(0)
        });
        _escrowed += amount;
        emit RedemptionRequested(redemptionId, merchant, amount);
        _token.safeTransferFrom(merchant, address(this), amount);
    }

    /**
     * @dev Burns the escrowed tokens of a requested redemption against the bank settlement that
     * paid the merchant. Restricted (TREASURY).
     * @param redemptionId a redemption still requested.
     * @param settlementRef the bank settlement; not zero, never used by any redemption (the token
     * refuses a reused or empty reference and the whole call reverts).
     *
     * Emits a {RedemptionConfirmed} event (and the token's {Transfer} and {Redeemed}).
     */
    function confirmRedemption(uint256 redemptionId, bytes32 settlementRef) external restricted {
        Redemption storage redemption = _requireRequested(redemptionId);
        uint256 amount = redemption.amount;
        redemption.status = RedemptionStatus.Confirmed;
        redemption.settlementRef = settlementRef;
        _escrowed -= amount;
        emit RedemptionConfirmed(redemptionId, redemption.merchant, amount, settlementRef);
        ICityToken(address(_token)).redeem(amount, settlementRef);
    }

    /**
     * @dev Returns the escrowed tokens of a requested redemption to its merchant. Restricted
     * (TREASURY).
     * @param redemptionId a redemption still requested.
     * @param reason why (a short text reference, e.g. the bank's rejection code).
     *
     * Emits a {RedemptionRejected} event (and the token's {Transfer}).
     */
    function rejectRedemption(uint256 redemptionId, bytes32 reason) external restricted {
        Redemption storage redemption = _requireRequested(redemptionId);
        uint256 amount = redemption.amount;
        address merchant = redemption.merchant;
        redemption.status = RedemptionStatus.Rejected;
        _escrowed -= amount;
        emit RedemptionRejected(redemptionId, merchant, amount, reason);
        _token.safeTransfer(merchant, amount);
    }

    /**
     * @dev Moves `amount` of the city's fee share to `to`. Restricted (TREASURY). What stays is
     * what pays the city's part of later refunds.
     * @param to an active account; not zero.
     * @param amount not zero, at most {cityFees}.
     *
     * Emits a {CityFeesWithdrawn} event (and the token's {Transfer}).
     */
    function withdrawCityFees(address to, uint256 amount) external restricted {
        if (to == address(0)) revert PaymentRouterZeroAddress();
        if (amount == 0) revert PaymentRouterZeroAmount();
        uint256 available = _cityFees;
        if (amount > available) revert PaymentRouterInsufficientCityFees(amount, available);
        // amount <= available was checked above.
        unchecked {
            _cityFees = available - amount;
        }
        emit CityFeesWithdrawn(to, amount);
        _token.safeTransfer(to, amount);
    }

    // -- views ------------------------------------------------------------------------------------

    /// @inheritdoc IPaymentRouter
    function invoiceRefOf(Order calldata order) public pure returns (bytes32) {
        return keccak256(abi.encode(order));
    }

    /// @inheritdoc IPaymentRouter
    function feeBpsOf(address merchant) public view returns (uint16) {
        MerchantTerms memory terms = _merchantTerms[merchant];
        if (terms.ownFee) return terms.feeBps;
        if (terms.category != 0) {
            CategoryFee memory categoryFee = _categoryFees[terms.category];
            if (categoryFee.set) return categoryFee.feeBps;
        }
        return _defaultFeeBps;
    }

    /// @inheritdoc IPaymentRouter
    function quote(
        address merchant,
        uint256 amount
    ) public view returns (uint256 fee, uint256 points, uint256 cityShare) {
        fee = Math.mulDiv(amount, feeBpsOf(merchant), BPS);
        points = Math.mulDiv(fee, _pointShareBps, BPS);
        cityShare = fee - points;
    }

    /// @inheritdoc IPaymentRouter
    function paymentOf(bytes32 invoiceRef) external view returns (Payment memory) {
        return _payments[invoiceRef];
    }

    /// @inheritdoc IPaymentRouter
    function isCancelled(bytes32 invoiceRef) external view returns (bool) {
        return _cancelled[invoiceRef];
    }

    /// @inheritdoc IPaymentRouter
    function redemptionOf(uint256 redemptionId) external view returns (Redemption memory) {
        return _redemptions[redemptionId];
    }

    /// @inheritdoc IPaymentRouter
    function cityFees() external view returns (uint256) {
        return _cityFees;
    }

    /// @inheritdoc IPaymentRouter
    function feeSchedule() external view returns (uint16 defaultFeeBps, uint16 pointShareBps) {
        return (_defaultFeeBps, _pointShareBps);
    }

    /// @inheritdoc IPaymentRouter
    function token() external view returns (address) {
        return address(_token);
    }

    /// @inheritdoc IPaymentRouter
    function registry() external view returns (address) {
        return address(_registry);
    }

    /// @inheritdoc IPaymentRouter
    function categoryFeeOf(uint32 category) external view returns (uint16 feeBps, bool set) {
        CategoryFee memory categoryFee = _categoryFees[category];
        return (categoryFee.feeBps, categoryFee.set);
    }

    /// @inheritdoc IPaymentRouter
    function merchantCategoryOf(address merchant) external view returns (uint32) {
        return _merchantTerms[merchant].category;
    }

    /// @inheritdoc IPaymentRouter
    function merchantFeeOf(address merchant) external view returns (uint16 feeBps, bool enabled) {
        MerchantTerms memory terms = _merchantTerms[merchant];
        return (terms.feeBps, terms.ownFee);
    }

    /// @inheritdoc IPaymentRouter
    function redemptionCount() external view returns (uint256) {
        return _redemptionCount;
    }

    /// @inheritdoc IPaymentRouter
    function escrowed() external view returns (uint256) {
        return _escrowed;
    }

    // -- internals ----------------------------------------------------------------------------------

    /**
     * @dev Checks that `order` can be paid now, records its payment by `payer` with the fee split of
     * this moment, counts the city's share and emits {PaymentSettled}. Moves no token: the caller
     * collects with {_collect} afterwards.
     */
    function _record(address payer, Order calldata order) private returns (bytes32 invoiceRef, Payment memory payment) {
        uint256 amount = order.amount;
        address merchant = order.merchant;
        if (amount == 0) revert PaymentRouterZeroAmount();
        invoiceRef = invoiceRefOf(order);
        if (_payments[invoiceRef].payer != address(0)) revert PaymentRouterInvoicePaid(invoiceRef);
        if (_cancelled[invoiceRef]) revert PaymentRouterInvoiceCancelled(invoiceRef);
        if (block.timestamp > order.validUntil) revert PaymentRouterInvoiceExpired(invoiceRef, order.validUntil);
        _requireMerchant(merchant);

        (uint256 fee, uint256 points, uint256 cityShare) = quote(merchant, amount);
        payment = Payment({
            payer: payer,
            merchant: merchant,
            amount: amount,
            fee: fee,
            points: points,
            cityShare: cityShare,
            refunded: 0,
            pointsClawedBack: 0,
            cityShareReturned: 0,
            // A uint64 holds any timestamp for the next 5 * 10^11 years.
            paidAt: uint64(block.timestamp)
        });
        _payments[invoiceRef] = payment;
        _cityFees += cityShare;
        emit PaymentSettled(invoiceRef, payer, merchant, amount, amount - fee, fee, points, cityShare);
    }

    /**
     * @dev Takes a recorded payment from `payer`: the merchant's part to the merchant, the city's
     * share to this router; the points never leave the payer. The merchant's transfer is made even
     * when it is zero (a 100 % fee), so that an inactive payer is always refused by the token.
     */
    function _collect(address payer, Payment memory payment) private {
        _token.safeTransferFrom(payer, payment.merchant, payment.amount - payment.fee);
        if (payment.cityShare != 0) _token.safeTransferFrom(payer, address(this), payment.cityShare);
    }

    /**
     * @dev Where a refund of `amount` more of `payment` comes from (see {IPaymentRouter}): the running
     * totals of the fee reversed (`feeBack`) and of the points among it (`pointsBack`) up to the new
     * refunded total, less what earlier refunds took. Reverts if `amount` exceeds what is refundable.
     */
    function _refundSplit(
        Payment storage payment,
        uint256 amount
    ) private view returns (uint256 fromMerchant, uint256 fromCity, uint256 pointsClawedBack) {
        uint256 paid = payment.amount;
        uint256 refundedBefore = payment.refunded;
        uint256 refundable = paid - refundedBefore;
        if (amount > refundable) revert PaymentRouterRefundTooLarge(amount, refundable);
        uint256 fee = payment.fee;
        uint256 feeBack = Math.mulDiv(fee, refundedBefore + amount, paid);
        uint256 pointsBack = fee == 0 ? 0 : Math.mulDiv(payment.points, feeBack, fee);
        // Each running total only grows with the refunded total, so none of these underflows.
        pointsClawedBack = pointsBack - payment.pointsClawedBack;
        fromCity = feeBack - pointsBack - payment.cityShareReturned;
        fromMerchant = amount - pointsClawedBack - fromCity;
    }

    /// @dev Cancels `order` on behalf of `by` if it is neither paid nor cancelled.
    function _cancel(Order calldata order, address by) private {
        bytes32 invoiceRef = invoiceRefOf(order);
        if (_payments[invoiceRef].payer != address(0)) revert PaymentRouterInvoicePaid(invoiceRef);
        if (_cancelled[invoiceRef]) revert PaymentRouterInvoiceCancelled(invoiceRef);
        _cancelled[invoiceRef] = true;
        emit InvoiceCancelled(invoiceRef, order.merchant, by);
    }

    /// @dev Sets the default fee and the points' share, and emits {FeeScheduleSet}.
    function _setFeeSchedule(uint16 defaultFeeBps, uint16 pointShareBps) private {
        _requireBps(defaultFeeBps);
        _requireBps(pointShareBps);
        _defaultFeeBps = defaultFeeBps;
        _pointShareBps = pointShareBps;
        emit FeeScheduleSet(defaultFeeBps, pointShareBps);
    }

    /// @dev The redemption `redemptionId`, which must still wait for a decision.
    function _requireRequested(uint256 redemptionId) private view returns (Redemption storage redemption) {
        redemption = _redemptions[redemptionId];
        if (redemption.status != RedemptionStatus.Requested) revert PaymentRouterUnknownRedemption(redemptionId);
    }

    /// @dev Reverts unless `account` is an active merchant of the registry.
    function _requireMerchant(address account) private view {
        if (_registry.kindOf(account) != IResidentRegistry.AccountKind.Merchant || !_registry.isActive(account)) {
            revert PaymentRouterNotMerchant(account);
        }
    }

    /// @dev Reverts unless `bps` is a rate between 0 and 100 %.
    function _requireBps(uint256 bps) private pure {
        if (bps > BPS) revert PaymentRouterInvalidBps(bps);
    }
}
