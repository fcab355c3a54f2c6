// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessManaged} from "@openzeppelin/contracts/access/manager/AccessManaged.sol";

import {ICityToken} from "../token/ICityToken.sol";
import {IResidentRegistry} from "./IResidentRegistry.sol";

/**
 * @title ResidentRegistry
 * @dev The city's account registry (see {IResidentRegistry}).
 *
 * Restricted functions are authorized by the city's AccessManager. Which role may call which is
 * decided in one place, `FUNCTION_ROLES` in `ledger/roles.py`, which the deployment applies; each
 * function below names its role, and a test keeps those names equal to `FUNCTION_ROLES`.
 *
 * {recover} calls the token's `recoverBalance`, so this contract must hold the RECOVERY role
 * (without execution delay) once a token is set; otherwise recovery reverts as a whole.
 */
contract ResidentRegistry is IResidentRegistry, AccessManaged {
    mapping(address account => Registration) private _registrations;

    address private _token;

    uint256 private _registeredCount;

    /**
     * @dev Creates an empty registry governed by `initialAuthority`.
     * @param initialAuthority the city's AccessManager.
     */
    constructor(address initialAuthority) AccessManaged(initialAuthority) {}

    /**
     * @dev Registers `account` as an active account of `kind` in `district`. Restricted (REGISTRAR).
     * @param account an address never registered before (not even retired); not zero.
     * @param kind what the account is; not `None`.
     * @param district the district code.
     * @param credentialHash the hash of the holder's off-chain credential; not zero.
     *
     * Emits an {AccountRegistered} event.
     */
    function register(
        address account,
        AccountKind kind,
        uint32 district,
        bytes32 credentialHash
    ) external restricted {
        if (account == address(0)) revert ResidentRegistryZeroAddress();
        _requireUnregistered(account);
        _requireValidDetails(kind, credentialHash);
        _registrations[account] = Registration({
            kind: kind,
            status: AccountStatus.Active,
            district: district,
            // A uint64 holds any timestamp for the next 5 * 10^11 years.
            registeredAt: uint64(block.timestamp),
            credentialHash: credentialHash
        });
        // Each increment registers a distinct address, so the count stays below 2^160.
        unchecked {
            ++_registeredCount;
        }
        emit AccountRegistered(account, kind, district, credentialHash);
    }

    /**
     * @dev Changes the kind, district and credential hash of an active or frozen `account`; its
     * status and registration time are unchanged. Restricted (REGISTRAR).
     * @param account a registered, not retired, account.
     * @param kind the new kind; not `None`.
     * @param district the new district code.
     * @param credentialHash the new credential hash; not zero.
     *
     * Emits an {AccountUpdated} event.
     */
    function update(
        address account,
        AccountKind kind,
        uint32 district,
        bytes32 credentialHash
    ) external restricted {
        Registration storage registration = _requireLive(account);
        _requireValidDetails(kind, credentialHash);
        registration.kind = kind;
        registration.district = district;
        registration.credentialHash = credentialHash;
        emit AccountUpdated(account, kind, district, credentialHash);
    }

    /**
     * @dev Freezes an active `account`: the token refuses every transfer, mint or burn that
     * involves it until {unfreeze}. Restricted (REGISTRAR).
     * @param account an active account.
     *
     * Emits an {AccountFrozen} event.
     */
    function freeze(address account) external restricted {
        Registration storage registration = _requireLive(account);
        if (registration.status != AccountStatus.Active) revert ResidentRegistryNotActive(account);
        registration.status = AccountStatus.Frozen;
        emit AccountFrozen(account);
    }

    /**
     * @dev Makes a frozen `account` active again. Restricted (REGISTRAR).
     * @param account a frozen account.
     *
     * Emits an {AccountUnfrozen} event.
     */
    function unfreeze(address account) external restricted {
        Registration storage registration = _requireLive(account);
        if (registration.status != AccountStatus.Frozen) revert ResidentRegistryNotFrozen(account);
        registration.status = AccountStatus.Active;
        emit AccountUnfrozen(account);
    }

    /**
     * @dev Lost-key recovery. Moves the registration of `oldAccount` (active or frozen) to
     * `newAccount` with the same kind, district, credential hash and registration time and status
     * `Active`; retires `oldAccount` for good; and, when a token is set, moves the whole token
     * balance of `oldAccount` to `newAccount` through the token's `recoverBalance`, all in this one
     * transaction. Restricted (REGISTRAR).
     *
     * Reverts as a whole if the token refuses the move: in particular while the token is paused
     * (no balance moves during a pause, recovery included), or if this registry lacks the token's
     * RECOVERY role.
     *
     * @param oldAccount the account whose key was lost; active or frozen.
     * @param newAccount the holder's new address; never registered before, not zero.
     * @return balance the number of tokens moved (0 when no token is set).
     *
     * Emits an {AccountRecovered} event.
     */
    function recover(address oldAccount, address newAccount) external restricted returns (uint256 balance) {
        if (newAccount == address(0)) revert ResidentRegistryZeroAddress();
        Registration storage old = _requireLive(oldAccount);
        _requireUnregistered(newAccount);

        _registrations[newAccount] = Registration({
            kind: old.kind,
            status: AccountStatus.Active,
            district: old.district,
            registeredAt: old.registeredAt,
            credentialHash: old.credentialHash
        });
        old.status = AccountStatus.Retired;
        // One live account is retired and one is added: {_registeredCount} is unchanged.

        // The token is the city's own contract, set once by the admin and checked to point back
        // at this registry; every state change above is done before calling it.
        address cityToken = _token;
        if (cityToken != address(0)) {
            balance = ICityToken(cityToken).recoverBalance(oldAccount, newAccount);
        }
        emit AccountRecovered(oldAccount, newAccount, balance);
    }

    /**
     * @dev Sets the token whose balances {recover} moves. Can be done only once, and only with a
     * token whose `registry()` is this contract. Restricted (ADMIN).
     * @param newToken the city token.
     *
     * Emits a {TokenSet} event.
     */
    function setToken(address newToken) external restricted {
        if (_token != address(0)) revert ResidentRegistryTokenAlreadySet();
        if (newToken == address(0)) revert ResidentRegistryZeroAddress();
        if (ICityToken(newToken).registry() != address(this)) revert ResidentRegistryTokenMismatch(newToken);
        _token = newToken;
        emit TokenSet(newToken);
    }

    /// @inheritdoc IResidentRegistry
    function registrationOf(address account) external view returns (Registration memory) {
        return _registrations[account];
    }

    /// @inheritdoc IResidentRegistry
    function isActive(address account) external view returns (bool) {
        return _registrations[account].status == AccountStatus.Active;
    }

    /// @inheritdoc IResidentRegistry
    function statusOf(address account) external view returns (AccountStatus) {
        return _registrations[account].status;
    }

    /// @inheritdoc IResidentRegistry
    function kindOf(address account) external view returns (AccountKind) {
        return _registrations[account].kind;
    }

    /// @inheritdoc IResidentRegistry
    function token() external view returns (address) {
        return _token;
    }

    /// @inheritdoc IResidentRegistry
    function registeredCount() external view returns (uint256) {
        return _registeredCount;
    }

    /// @dev Reverts unless `account` has never been registered.
    function _requireUnregistered(address account) private view {
        AccountStatus status = _registrations[account].status;
        if (status == AccountStatus.Retired) revert ResidentRegistryRetired(account);
        if (status != AccountStatus.None) revert ResidentRegistryAlreadyRegistered(account);
    }

    /// @dev The registration of `account`; reverts unless it is active or frozen.
    function _requireLive(address account) private view returns (Registration storage registration) {
        registration = _registrations[account];
        AccountStatus status = registration.status;
        if (status == AccountStatus.None) revert ResidentRegistryNotRegistered(account);
        if (status == AccountStatus.Retired) revert ResidentRegistryRetired(account);
    }

    /// @dev Reverts unless `kind` is a real kind and `credentialHash` is not zero.
    function _requireValidDetails(AccountKind kind, bytes32 credentialHash) private pure {
        if (kind == AccountKind.None) revert ResidentRegistryInvalidKind();
        if (credentialHash == bytes32(0)) revert ResidentRegistryEmptyCredential();
    }
}
