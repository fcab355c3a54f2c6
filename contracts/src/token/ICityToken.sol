// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IResidentRegistry} from "../registry/IResidentRegistry.sol";

/**
 * @title ICityToken
 * @dev The city's local currency beyond ERC-20 and EIP-2612: supply changes tied to bank
 * references, a mint limit, an emergency pause and balance recovery for lost keys.
 *
 * 1 token = 1 KRW (`decimals() == 0`). Every supply change names a reference: a mint the fiat
 * deposit that backs it, a redemption the bank settlement that pays it out; each reference is
 * usable once. Invariant: `totalSupply() == totalMinted() - totalBurned()`.
 *
 * Only active accounts of the registry move tokens: the sender and the recipient of a transfer,
 * the recipient of a mint, the holder of a redemption, and the spender of a `transferFrom` (the
 * city's contracts that spend allowances are active `CityService` accounts).
 *
 * The pause uses OpenZeppelin's `Pausable`: its `Paused(address account)` and
 * `Unpaused(address account)` events and its `EnforcedPause()` and `ExpectedPause()` errors.
 */
interface ICityToken {
    /// @dev `amount` tokens were minted to `to` against the fiat deposit `depositRef`.
    event Minted(address indexed to, uint256 amount, bytes32 indexed depositRef);

    /// @dev `account` burned `amount` tokens to be paid out by the bank settlement `settlementRef`.
    event Redeemed(address indexed account, uint256 amount, bytes32 indexed settlementRef);

    /// @dev The most one {mint} may create changed from `oldLimit` to `newLimit`.
    event MintLimitSet(uint256 oldLimit, uint256 newLimit);

    /// @dev The whole balance of the retired account `from`, `amount` tokens, moved to `to`.
    event BalanceRecovered(address indexed from, address indexed to, uint256 amount);

    /// @dev `account` is not active in the registry (unregistered, frozen or retired).
    error CityTokenAccountNotActive(address account);

    /**
     * @dev `spender` tried to spend an allowance (`transferFrom`) but its registry status is
     * `status`, not `Active`: only an active account may move someone else's tokens.
     */
    error CityTokenSpenderNotActive(address spender, IResidentRegistry.AccountStatus status);

    /// @dev {recoverBalance} was asked to move the balance of `account`, which is not retired.
    error CityTokenAccountNotRetired(address account);

    /// @dev {mint} was asked for `amount`, above the mint limit `limit`.
    error CityTokenMintAboveLimit(uint256 amount, uint256 limit);

    /// @dev The deposit reference `depositRef` was already used by an earlier mint.
    error CityTokenDepositRefUsed(bytes32 depositRef);

    /// @dev The settlement reference `settlementRef` was already used by an earlier redemption.
    error CityTokenSettlementRefUsed(bytes32 settlementRef);

    /// @dev A deposit or settlement reference was zero.
    error CityTokenEmptyReference();

    /// @dev A mint or redemption was asked for zero tokens.
    error CityTokenZeroAmount();

    /// @dev An address given was the zero address.
    error CityTokenZeroAddress();

    /**
     * @dev Mints `amount` tokens to the active account `to` against the fiat deposit `depositRef`.
     *
     * Emits a {Minted} event.
     */
    function mint(address to, uint256 amount, bytes32 depositRef) external;

    /**
     * @dev Like {mint} without the mint limit (for a role granted with an execution delay).
     *
     * Emits a {Minted} event.
     */
    function mintAboveLimit(address to, uint256 amount, bytes32 depositRef) external;

    /**
     * @dev Sets the most one {mint} may create.
     *
     * Emits a {MintLimitSet} event.
     */
    function setMintLimit(uint256 newLimit) external;

    /**
     * @dev Stops every balance change: transfers, mints, redemptions and recoveries.
     *
     * Emits a {Paused} event.
     */
    function pause() external;

    /**
     * @dev Lifts the pause.
     *
     * Emits an {Unpaused} event.
     */
    function unpause() external;

    /**
     * @dev Moves the whole balance of the retired account `from` to the active account `to`.
     * @return amount the number of tokens moved.
     *
     * Emits a {BalanceRecovered} event.
     */
    function recoverBalance(address from, address to) external returns (uint256 amount);

    /**
     * @dev Burns `amount` of the caller's tokens to be paid out by the bank settlement `settlementRef`.
     *
     * Emits a {Redeemed} event.
     */
    function redeem(uint256 amount, bytes32 settlementRef) external;

    /// @dev The most one {mint} may create.
    function mintLimit() external view returns (uint256);

    /// @dev Every token ever minted.
    function totalMinted() external view returns (uint256);

    /// @dev Every token ever burned (redeemed).
    function totalBurned() external view returns (uint256);

    /// @dev Whether `depositRef` was used by a mint.
    function isDepositRefUsed(bytes32 depositRef) external view returns (bool);

    /// @dev Whether `settlementRef` was used by a redemption.
    function isSettlementRefUsed(bytes32 settlementRef) external view returns (bool);

    /// @dev The resident registry that decides who may hold and move tokens.
    function registry() external view returns (address);
}
