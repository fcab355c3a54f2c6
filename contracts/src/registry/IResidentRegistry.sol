// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IResidentRegistry
 * @dev The city's account registry: which addresses take part in the local economy, as what kind of
 * account, in which district, and whether they are active. No personal data is kept: an account is
 * linked to a person's credential (held off chain) only by the credential's hash.
 *
 * Statuses: `None` (never registered) -> `Active` <-> `Frozen`; `Active` or `Frozen` -> `Retired`
 * when the account is recovered to a new address. A retired account can never be registered or
 * used again.
 */
interface IResidentRegistry {
    /// @dev What an account is. `None` marks an unregistered address.
    enum AccountKind {
        None,
        Resident,
        Merchant,
        CityService,
        Prosumer,
        DataBuyer,
        Issuer
    }

    /// @dev Where an account stands. `None` marks an unregistered address.
    enum AccountStatus {
        None,
        Active,
        Frozen,
        Retired
    }

    /**
     * @dev One account's registration (two storage slots).
     * @param kind what the account is.
     * @param status whether it may transact.
     * @param district the city's district (life zone) code.
     * @param registeredAt the timestamp of the first registration; kept across recoveries.
     * @param credentialHash the hash of the off-chain credential that identifies the holder.
     */
    struct Registration {
        AccountKind kind;
        AccountStatus status;
        uint32 district;
        uint64 registeredAt;
        bytes32 credentialHash;
    }

    /// @dev `account` was registered as an active account.
    event AccountRegistered(address indexed account, AccountKind kind, uint32 district, bytes32 credentialHash);

    /// @dev The registration of `account` was changed to these values (its status is unchanged).
    event AccountUpdated(address indexed account, AccountKind kind, uint32 district, bytes32 credentialHash);

    /// @dev `account` was frozen: it can no longer send or receive tokens.
    event AccountFrozen(address indexed account);

    /// @dev `account` was unfrozen: it is active again.
    event AccountUnfrozen(address indexed account);

    /**
     * @dev The registration of `oldAccount` moved to `newAccount`, `oldAccount` is retired, and
     * `balance` tokens moved with it (0 when no token is set).
     */
    event AccountRecovered(address indexed oldAccount, address indexed newAccount, uint256 balance);

    /// @dev The token whose balances {recover} moves was set (once).
    event TokenSet(address indexed token);

    /// @dev `account` is already registered (active or frozen).
    error ResidentRegistryAlreadyRegistered(address account);

    /// @dev `account` was never registered.
    error ResidentRegistryNotRegistered(address account);

    /// @dev The account kind given was `None`.
    error ResidentRegistryInvalidKind();

    /// @dev An address given was the zero address.
    error ResidentRegistryZeroAddress();

    /// @dev The credential hash given was zero.
    error ResidentRegistryEmptyCredential();

    /// @dev `account` is registered but not active (it is frozen).
    error ResidentRegistryNotActive(address account);

    /// @dev `account` is registered but not frozen (it is active).
    error ResidentRegistryNotFrozen(address account);

    /// @dev `account` is retired: it was recovered to another address and can never be used again.
    error ResidentRegistryRetired(address account);

    /// @dev The token was already set; it can be set only once.
    error ResidentRegistryTokenAlreadySet();

    /// @dev `token` does not name this registry as its registry.
    error ResidentRegistryTokenMismatch(address token);

    /**
     * @dev Registers `account` as an active account of `kind` in `district`.
     * @param account an address never registered before (not even retired); not zero.
     * @param kind what the account is; not `None`.
     * @param district the district code.
     * @param credentialHash the hash of the holder's off-chain credential; not zero.
     *
     * Emits an {AccountRegistered} event.
     */
    function register(address account, AccountKind kind, uint32 district, bytes32 credentialHash) external;

    /**
     * @dev Changes the kind, district and credential hash of an active or frozen `account`.
     *
     * Emits an {AccountUpdated} event.
     */
    function update(address account, AccountKind kind, uint32 district, bytes32 credentialHash) external;

    /**
     * @dev Freezes an active `account`: it can no longer send or receive tokens.
     *
     * Emits an {AccountFrozen} event.
     */
    function freeze(address account) external;

    /**
     * @dev Makes a frozen `account` active again.
     *
     * Emits an {AccountUnfrozen} event.
     */
    function unfreeze(address account) external;

    /**
     * @dev Lost-key recovery: moves the registration of an active or frozen `oldAccount` to the
     * never-registered `newAccount` (active, same kind, district, credential and registration time),
     * retires `oldAccount`, and moves its whole token balance to `newAccount`, all in one transaction.
     * @return balance the number of tokens moved.
     *
     * Emits an {AccountRecovered} event.
     */
    function recover(address oldAccount, address newAccount) external returns (uint256 balance);

    /**
     * @dev Sets the token whose balances {recover} moves. Can be done only once.
     *
     * Emits a {TokenSet} event.
     */
    function setToken(address newToken) external;

    /// @dev The registration of `account` (all zero for an address never registered).
    function registrationOf(address account) external view returns (Registration memory);

    /// @dev Whether `account` is registered and active.
    function isActive(address account) external view returns (bool);

    /// @dev The status of `account`.
    function statusOf(address account) external view returns (AccountStatus);

    /// @dev The kind of `account`.
    function kindOf(address account) external view returns (AccountKind);

    /// @dev The token whose balances {recover} moves (the zero address until set).
    function token() external view returns (address);

    /// @dev How many accounts are registered and not retired (active plus frozen).
    function registeredCount() external view returns (uint256);
}
