// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IPaymentRouter
 * @dev Merchant payments in the local currency, with the fee split of the Sejong white paper: of a
 * 10,000-token purchase the merchant keeps 9,900 and the 100-token fee goes back to the consumer as
 * a "token point" (and, if the city takes a share, partly to the city).
 *
 * An invoice is an {Order}: the merchant, the amount, the last second it may be paid and a random
 * salt. Its reference is `keccak256(abi.encode(order))`, so an invoice's amount, merchant and expiry
 * cannot be changed by the payer, and invoices cost nothing on chain until they are paid. A
 * reference can be paid once and never after it was cancelled or expired. The reference is also the
 * payment's id.
 *
 * Fee arithmetic (all integer, rounding down, so no token is ever created or lost):
 *
 *   fee       = amount * feeBps / 10_000          feeBps: the merchant's, else its category's
 *   points    = fee * pointShareBps / 10_000      back to the payer (never leaves the payer)
 *   cityShare = fee - points                      kept by the router for the city
 *   merchantAmount = amount - fee
 *
 * The payer's balance falls by `merchantAmount + cityShare`. A refund of `r` tokens (cumulative
 * refunded `R` after it, `R <= amount`) reverses the split in proportion, computed cumulatively so
 * that a full refund in any number of parts reverses it exactly. The fee is reversed first and
 * then divided between points and city as the fee was:
 *
 *   feeBack          = fee * R / amount           (all of the fee reversed up to R)
 *   pointsBack       = points * feeBack / fee     (0 when fee is 0)
 *   pointsClawedBack = pointsBack - (points clawed back before)
 *   fromCity         = feeBack - pointsBack - (city share returned before)
 *   fromMerchant     = r - pointsClawedBack - fromCity
 *
 * Each running total (`feeBack`, `pointsBack`, `feeBack - pointsBack`, `R - feeBack`) only grows
 * with `R`, so no part of a refund is ever negative, the merchant never returns more than it
 * received (`R - feeBack <= merchantAmount`) nor the city more than its share. (Prorating points
 * and city share separately, `points * R / amount` and `cityShare * R / amount`, is not enough:
 * both can round up in the same one-token refund, which would leave `fromMerchant` at -1.)
 * If the router holds less city share than `fromCity` (the treasury withdrew it), the refund
 * reverts with {PaymentRouterInsufficientCityFees}.
 *
 * The payer receives `fromMerchant + fromCity`: points are clawed back by netting them from the
 * refund, never by taking them from the payer's balance, so a payer who already spent their points
 * still gets a refund and no refund can fail for it.
 *
 * Merchant redemption is two-step: the merchant moves tokens into the router's escrow with
 * {requestRedemption}; the treasury burns them with the bank's settlement reference
 * ({confirmRedemption}) once the bank transfer is made, or returns them ({rejectRedemption}).
 */
interface IPaymentRouter {
    /// @dev An invoice. Its reference is `keccak256(abi.encode(order))`.
    struct Order {
        address merchant;
        uint256 amount;
        uint64 validUntil;
        bytes32 salt;
    }

    /// @dev What a settled payment was, and how much of it was refunded.
    struct Payment {
        address payer;
        address merchant;
        uint256 amount;
        uint256 fee;
        uint256 points;
        uint256 cityShare;
        uint256 refunded;
        uint256 pointsClawedBack;
        uint256 cityShareReturned;
        uint64 paidAt;
    }

    /// @dev A redemption request and where it stands.
    enum RedemptionStatus {
        None,
        Requested,
        Confirmed,
        Rejected
    }

    struct Redemption {
        address merchant;
        uint256 amount;
        RedemptionStatus status;
        bytes32 settlementRef;
    }

    /// @dev `payer` paid the invoice `invoiceRef` of `merchant`: `amount = merchantAmount + fee`,
    /// `fee = points + cityShare`.
    event PaymentSettled(
        bytes32 indexed invoiceRef,
        address indexed payer,
        address indexed merchant,
        uint256 amount,
        uint256 merchantAmount,
        uint256 fee,
        uint256 points,
        uint256 cityShare
    );

    /// @dev `merchant` refunded `amount` of the payment `invoiceRef` to `payer`:
    /// `amount = fromMerchant + fromCity + pointsClawedBack`; `refundedTotal` is the running total.
    event PaymentRefunded(
        bytes32 indexed invoiceRef,
        address indexed payer,
        address indexed merchant,
        uint256 amount,
        uint256 fromMerchant,
        uint256 fromCity,
        uint256 pointsClawedBack,
        uint256 refundedTotal
    );

    /// @dev The invoice `invoiceRef` of `merchant` was cancelled by `by`.
    event InvoiceCancelled(bytes32 indexed invoiceRef, address indexed merchant, address by);

    /// @dev The default fee and the points' share of every fee changed.
    event FeeScheduleSet(uint16 defaultFeeBps, uint16 pointShareBps);

    /// @dev The fee of merchants in `category` (without their own fee) is now `feeBps`.
    event CategoryFeeSet(uint32 indexed category, uint16 feeBps);

    /// @dev `merchant` is now in `category`.
    event MerchantCategorySet(address indexed merchant, uint32 indexed category);

    /// @dev `merchant`'s own fee is now `feeBps`; `enabled == false` means it uses its category's.
    event MerchantFeeSet(address indexed merchant, uint16 feeBps, bool enabled);

    /// @dev `merchant` moved `amount` tokens into escrow to be paid out by the bank.
    event RedemptionRequested(uint256 indexed redemptionId, address indexed merchant, uint256 amount);

    /// @dev The treasury burned the escrowed `amount` against the bank settlement `settlementRef`.
    event RedemptionConfirmed(
        uint256 indexed redemptionId,
        address indexed merchant,
        uint256 amount,
        bytes32 indexed settlementRef
    );

    /// @dev The treasury returned the escrowed `amount` to `merchant` for `reason`.
    event RedemptionRejected(uint256 indexed redemptionId, address indexed merchant, uint256 amount, bytes32 reason);

    /// @dev The treasury moved `amount` of the city's fee share to `to`.
    event CityFeesWithdrawn(address indexed to, uint256 amount);

    /// @dev `merchant` is not an active merchant account in the registry.
    error PaymentRouterNotMerchant(address merchant);

    /// @dev An order or refund named zero tokens.
    error PaymentRouterZeroAmount();

    /// @dev The invoice `invoiceRef` was already paid.
    error PaymentRouterInvoicePaid(bytes32 invoiceRef);

    /// @dev The invoice `invoiceRef` was cancelled.
    error PaymentRouterInvoiceCancelled(bytes32 invoiceRef);

    /// @dev The invoice `invoiceRef` could be paid until `validUntil`, which has passed.
    error PaymentRouterInvoiceExpired(bytes32 invoiceRef, uint64 validUntil);

    /// @dev No payment was made with the reference `invoiceRef`.
    error PaymentRouterUnknownPayment(bytes32 invoiceRef);

    /// @dev `caller` may not act for `merchant`.
    error PaymentRouterNotInvoiceMerchant(address caller, address merchant);

    /// @dev A refund of `amount` would exceed the `refundable` rest of the payment.
    error PaymentRouterRefundTooLarge(uint256 amount, uint256 refundable);

    /// @dev A relayed payment's signature is not the payer's.
    error PaymentRouterInvalidSignature(address payer);

    /// @dev A relayed payment's authorization expired at `deadline`.
    error PaymentRouterAuthorizationExpired(uint256 deadline);

    /// @dev A fee or share above 10,000 basis points.
    error PaymentRouterInvalidBps(uint256 bps);

    /// @dev No redemption request `redemptionId` waits for a decision.
    error PaymentRouterUnknownRedemption(uint256 redemptionId);

    /// @dev `amount` is more than the `available` city fee share.
    error PaymentRouterInsufficientCityFees(uint256 amount, uint256 available);

    /// @dev An address given was the zero address.
    error PaymentRouterZeroAddress();

    /// @dev Category 0 is the default category: its fee is the default fee ({setFeeSchedule}).
    error PaymentRouterInvalidCategory(uint32 category);

    /// @dev `token` does not use `registry` as its registry.
    error PaymentRouterRegistryMismatch(address token, address registry);

    /**
     * @dev Pays the invoice `order` from the caller's balance (the caller must have approved the
     * router for `order.amount - points`). Returns the invoice reference.
     *
     * Emits a {PaymentSettled} event.
     */
    function pay(Order calldata order) external returns (bytes32 invoiceRef);

    /**
     * @dev Pays `order` for `payer`, who signed the EIP-712 message
     * `Pay(address payer,bytes32 invoiceRef,uint256 deadline)` for this router. If `permitDeadline`
     * is not zero, first applies the payer's EIP-2612 permit `(permitV, permitR, permitS)` of
     * `order.amount` tokens to the router (a permit already used by a front-runner is tolerated if
     * the allowance is there). Anyone may relay.
     *
     * Emits a {PaymentSettled} event.
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
    ) external returns (bytes32 invoiceRef);

    /**
     * @dev Cancels the unpaid invoice `order`; only its merchant may.
     *
     * Emits an {InvoiceCancelled} event.
     */
    function cancelInvoice(Order calldata order) external;

    /**
     * @dev Cancels the unpaid invoice `order` for its merchant (the city's payment service).
     *
     * Emits an {InvoiceCancelled} event.
     */
    function cancelInvoiceFor(Order calldata order) external;

    /**
     * @dev Refunds `amount` of the payment `invoiceRef` to its payer; only its merchant may, and the
     * merchant must have approved the router for `fromMerchant`.
     *
     * Emits a {PaymentRefunded} event.
     */
    function refund(bytes32 invoiceRef, uint256 amount) external;

    /**
     * @dev Sets the fee of merchants without a category fee or their own, and the points' share.
     *
     * Emits a {FeeScheduleSet} event.
     */
    function setFeeSchedule(uint16 defaultFeeBps, uint16 pointShareBps) external;

    /// @dev Sets the fee of a merchant category. Emits a {CategoryFeeSet} event.
    function setCategoryFee(uint32 category, uint16 feeBps) external;

    /// @dev Puts `merchant` in `category` (0: the default). Emits a {MerchantCategorySet} event.
    function setMerchantCategory(address merchant, uint32 category) external;

    /// @dev Gives `merchant` its own fee, or removes it. Emits a {MerchantFeeSet} event.
    function setMerchantFee(address merchant, uint16 feeBps, bool enabled) external;

    /// @dev Moves `amount` of the caller's (an active merchant's) tokens into escrow for a bank
    /// payout; the caller must have approved the router for `amount`. Redemption ids start at 1.
    /// Emits a {RedemptionRequested} event.
    function requestRedemption(uint256 amount) external returns (uint256 redemptionId);

    /// @dev Burns a requested redemption against the bank's `settlementRef`.
    /// Emits a {RedemptionConfirmed} event (and the token's {Redeemed}).
    function confirmRedemption(uint256 redemptionId, bytes32 settlementRef) external;

    /// @dev Returns a requested redemption's tokens to its merchant. Emits a {RedemptionRejected} event.
    function rejectRedemption(uint256 redemptionId, bytes32 reason) external;

    /// @dev Moves `amount` of the city's fee share to `to`. Emits a {CityFeesWithdrawn} event.
    function withdrawCityFees(address to, uint256 amount) external;

    /// @dev The reference of `order`: `keccak256(abi.encode(order))`.
    function invoiceRefOf(Order calldata order) external pure returns (bytes32);

    /// @dev The fee `merchant` pays now, in basis points.
    function feeBpsOf(address merchant) external view returns (uint16);

    /// @dev The split of a payment of `amount` to `merchant` now: (fee, points, cityShare).
    function quote(address merchant, uint256 amount)
        external
        view
        returns (uint256 fee, uint256 points, uint256 cityShare);

    /// @dev The payment made with `invoiceRef` (all zero if none).
    function paymentOf(bytes32 invoiceRef) external view returns (Payment memory);

    /// @dev Whether `invoiceRef` was cancelled.
    function isCancelled(bytes32 invoiceRef) external view returns (bool);

    /// @dev The redemption request `redemptionId`.
    function redemptionOf(uint256 redemptionId) external view returns (Redemption memory);

    /// @dev The city's fee share held by the router and not yet withdrawn.
    function cityFees() external view returns (uint256);

    /// @dev The default fee and the points' share, in basis points.
    function feeSchedule() external view returns (uint16 defaultFeeBps, uint16 pointShareBps);

    /// @dev The token paid with.
    function token() external view returns (address);

    /// @dev The resident registry that says who is an active merchant.
    function registry() external view returns (address);

    /// @dev The fee of merchants in `category`, and whether one was set (if not, they pay the default).
    function categoryFeeOf(uint32 category) external view returns (uint16 feeBps, bool set);

    /// @dev The category of `merchant` (0: the default).
    function merchantCategoryOf(address merchant) external view returns (uint32);

    /// @dev The own fee of `merchant`, and whether it applies.
    function merchantFeeOf(address merchant) external view returns (uint16 feeBps, bool enabled);

    /// @dev How many redemptions were ever requested; their ids are 1 to this number.
    function redemptionCount() external view returns (uint256);

    /// @dev The tokens held in escrow for requested redemptions.
    function escrowed() external view returns (uint256);
}
