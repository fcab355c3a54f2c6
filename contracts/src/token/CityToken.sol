// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessManaged} from "@openzeppelin/contracts/access/manager/AccessManaged.sol";
import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Permit} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Permit.sol";
import {Pausable} from "@openzeppelin/contracts/utils/Pausable.sol";

import {IResidentRegistry} from "../registry/IResidentRegistry.sol";
import {ICityToken} from "./ICityToken.sol";

/**
 * @title CityToken
 * @dev The city's local currency (see {ICityToken}): an ERC-20 with EIP-2612 permits and no
 * decimals (1 token = 1 KRW), whose holders are the active accounts of a {IResidentRegistry}.
 *
 * Every rule on balances lives in {_update}: nothing moves while paused, a transfer needs an
 * active sender and an active recipient, a mint an active recipient, a burn an active holder. The
 * one exception is {recoverBalance}, which moves a retired account's balance (it skips only the
 * registry check on the retired sender; the pause still applies). The one rule on allowances lives
 * in {_spendAllowance}: the spender of a `transferFrom` must be active too.
 *
 * Restricted functions are authorized by the city's AccessManager. Which role may call which is
 * decided in one place, `FUNCTION_ROLES` in `ledger/roles.py`, which the deployment applies; each
 * function below names its role, and a test keeps those names equal to `FUNCTION_ROLES`.
 */
contract CityToken is ICityToken, ERC20, ERC20Permit, AccessManaged, Pausable {
    IResidentRegistry private immutable _registry;

    uint256 private _mintLimit;

    uint256 private _totalMinted;

    uint256 private _totalBurned;

    mapping(bytes32 depositRef => bool) private _depositRefUsed;

    mapping(bytes32 settlementRef => bool) private _settlementRefUsed;

    /**
     * @dev Creates the token with no supply.
     * @param name_ the token name, also the EIP-712 domain name for permits ("Sejong Local Currency").
     * @param symbol_ the token symbol ("SJW").
     * @param initialAuthority the city's AccessManager.
     * @param registry_ the resident registry; not zero.
     * @param initialMintLimit the most one {mint} may create.
     *
     * Emits a {MintLimitSet} event.
     */
    constructor(
        string memory name_,
        string memory symbol_,
        address initialAuthority,
        address registry_,
        uint256 initialMintLimit
    ) ERC20(name_, symbol_) ERC20Permit(name_) AccessManaged(initialAuthority) {
        if (registry_ == address(0)) revert CityTokenZeroAddress();
        _registry = IResidentRegistry(registry_);
        _setMintLimit(initialMintLimit);
    }

    /**
     * @dev Mints `amount` tokens to the active account `to` against the fiat deposit `depositRef`.
     * Restricted (TREASURY).
     * @param to an active account.
     * @param amount at most {mintLimit}; not zero.
     * @param depositRef the bank deposit that backs the mint; not zero, never used before.
     *
     * Emits a {Minted} event (after an ERC-20 {Transfer} from the zero address).
     */
    function mint(address to, uint256 amount, bytes32 depositRef) external restricted {
        uint256 limit = _mintLimit;
        if (amount > limit) revert CityTokenMintAboveLimit(amount, limit);
        _mintAgainst(to, amount, depositRef);
    }

    /**
     * @dev Like {mint} but without the mint limit. Restricted (TREASURY_LARGE, a role meant to be
     * granted with an execution delay, so the call must be scheduled on the AccessManager first).
     * @param to an active account.
     * @param amount not zero.
     * @param depositRef the bank deposit that backs the mint; not zero, never used before.
     *
     * Emits a {Minted} event (after an ERC-20 {Transfer} from the zero address).
     */
    function mintAboveLimit(address to, uint256 amount, bytes32 depositRef) external restricted {
        _mintAgainst(to, amount, depositRef);
    }

    /**
     * @dev Sets the most one {mint} may create. Restricted (ADMIN).
     * @param newLimit the new limit (0 makes every mint go through {mintAboveLimit}).
     *
     * Emits a {MintLimitSet} event.
     */
    function setMintLimit(uint256 newLimit) external restricted {
        _setMintLimit(newLimit);
    }

    /**
     * @dev Stops every balance change: transfers, mints, redemptions and recoveries. Approvals and
     * permits still work. Restricted (PAUSER). Reverts with `EnforcedPause()` if already paused.
     *
     * Emits a {Paused} event.
     */
    function pause() external restricted {
        _pause();
    }

    /**
     * @dev Lifts the pause. Restricted (PAUSER). Reverts with `ExpectedPause()` if not paused.
     *
     * Emits an {Unpaused} event.
     */
    function unpause() external restricted {
        _unpause();
    }

    /**
     * @dev Moves the whole balance of the retired account `from` to the active account `to`; the
     * registry calls it from `recover` right after retiring `from`. Restricted (RECOVERY).
     * Refused while paused.
     * @param from a retired account.
     * @param to an active account.
     * @return amount the number of tokens moved (may be 0).
     *
     * Emits a {BalanceRecovered} event (after an ERC-20 {Transfer} from `from` to `to`).
     */
    function recoverBalance(address from, address to) external restricted returns (uint256 amount) {
        _requireNotPaused();
        if (_registry.statusOf(from) != IResidentRegistry.AccountStatus.Retired) {
            revert CityTokenAccountNotRetired(from);
        }
        if (!_registry.isActive(to)) revert CityTokenAccountNotActive(to);
        amount = balanceOf(from);
        // Skips this contract's {_update}, whose sender check a retired account fails by design;
        // the pause and the recipient were checked above. Supply is unchanged.
        super._update(from, to, amount);
        emit BalanceRecovered(from, to, amount);
    }

    /**
     * @dev Burns `amount` of the caller's tokens, to be paid out in KRW by the bank settlement
     * `settlementRef`. The caller must be active.
     * @param amount not zero, at most the caller's balance.
     * @param settlementRef the bank settlement that pays the redemption; not zero, never used before.
     *
     * Emits a {Redeemed} event (after an ERC-20 {Transfer} to the zero address).
     */
    function redeem(uint256 amount, bytes32 settlementRef) external {
        if (amount == 0) revert CityTokenZeroAmount();
        if (settlementRef == bytes32(0)) revert CityTokenEmptyReference();
        if (_settlementRefUsed[settlementRef]) revert CityTokenSettlementRefUsed(settlementRef);
        _settlementRefUsed[settlementRef] = true;
        address account = _msgSender();
        _burn(account, amount);
        emit Redeemed(account, amount, settlementRef);
    }

    /**
     * @dev Tokens have no decimals: 1 token is 1 KRW.
     * @return 0.
     */
    function decimals() public pure override returns (uint8) {
        return 0;
    }

    /// @inheritdoc ICityToken
    function mintLimit() external view returns (uint256) {
        return _mintLimit;
    }

    /// @inheritdoc ICityToken
    function totalMinted() external view returns (uint256) {
        return _totalMinted;
    }

    /// @inheritdoc ICityToken
    function totalBurned() external view returns (uint256) {
        return _totalBurned;
    }

    /// @inheritdoc ICityToken
    function isDepositRefUsed(bytes32 depositRef) external view returns (bool) {
        return _depositRefUsed[depositRef];
    }

    /// @inheritdoc ICityToken
    function isSettlementRefUsed(bytes32 settlementRef) external view returns (bool) {
        return _settlementRefUsed[settlementRef];
    }

    /// @inheritdoc ICityToken
    function registry() external view returns (address) {
        return address(_registry);
    }

    /**
     * @dev Refuses to spend an allowance for a spender that is not active in the registry, then
     * spends it as ERC-20 does. Moving someone else's tokens needs an active spender, as moving
     * one's own needs an active sender: a frozen, retired or unregistered account can
     * `transferFrom` nobody's tokens, whatever it was approved for, and freezing it stops it at
     * once. The city's contracts that spend allowances (the PaymentRouter's payments, refunds and
     * redemption requests, the RewardsPool's `fund`) are no exception to the rule: the deployment
     * registers them as active `CityService` accounts, as they must be anyway to hold tokens, so
     * they pass it, and freezing one stops its pulls too. Approvals and permits are not checked:
     * they move nothing. Checked before the allowance, the pause and the owner and recipient.
     */
    function _spendAllowance(address owner, address spender, uint256 value) internal virtual override {
        IResidentRegistry.AccountStatus status = _registry.statusOf(spender);
        if (status != IResidentRegistry.AccountStatus.Active) revert CityTokenSpenderNotActive(spender, status);
        super._spendAllowance(owner, spender, value);
    }

    /**
     * @dev The one hook every balance change passes through (except {recoverBalance}): refuses
     * any change while paused, requires the sender of a transfer or burn and the recipient of a
     * transfer or mint to be active in the registry, and counts minted and burned tokens.
     */
    function _update(address from, address to, uint256 value) internal virtual override {
        _requireNotPaused();
        if (from != address(0) && !_registry.isActive(from)) revert CityTokenAccountNotActive(from);
        if (to != address(0) && !_registry.isActive(to)) revert CityTokenAccountNotActive(to);
        super._update(from, to, value);
        if (from == address(0)) {
            _totalMinted += value;
        } else if (to == address(0)) {
            _totalBurned += value;
        }
    }

    /// @dev Checks the amount and the deposit reference, marks the reference used and mints.
    function _mintAgainst(address to, uint256 amount, bytes32 depositRef) private {
        if (amount == 0) revert CityTokenZeroAmount();
        if (depositRef == bytes32(0)) revert CityTokenEmptyReference();
        if (_depositRefUsed[depositRef]) revert CityTokenDepositRefUsed(depositRef);
        _depositRefUsed[depositRef] = true;
        _mint(to, amount);
        emit Minted(to, amount, depositRef);
    }

    /// @dev Sets {mintLimit} and emits {MintLimitSet}.
    function _setMintLimit(uint256 newLimit) private {
        uint256 oldLimit = _mintLimit;
        _mintLimit = newLimit;
        emit MintLimitSet(oldLimit, newLimit);
    }
}
