// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title CityRoles
 * @dev The role ids of the city's {AccessManager} ({CityAuthority}). Every CityLedger contract is
 * `AccessManaged`; the deployment maps each restricted function selector to one of these roles
 * with `setTargetFunctionRole` and grants the roles to the city's staff accounts with `grantRole`.
 *
 * A selector that is never mapped stays restricted to {ADMIN} (the AccessManager's default).
 */
library CityRoles {
    /// @dev The AccessManager's own `ADMIN_ROLE`: grants roles, maps selectors, sets delays.
    uint64 internal constant ADMIN = 0;

    /// @dev Mints tokens against a fiat deposit, up to the token's mint limit.
    uint64 internal constant TREASURY = 1;

    /// @dev Registers, updates, freezes, unfreezes and recovers registry accounts.
    uint64 internal constant REGISTRAR = 2;

    /// @dev Manages merchants: categories, fees, settlement accounts (the PaymentRouter's fee setters).
    uint64 internal constant MERCHANT_ADMIN = 3;

    /// @dev Creates and runs elections and polls.
    uint64 internal constant ELECTION_ADMIN = 4;

    /// @dev Submits meter readings and energy settlement data.
    uint64 internal constant METER_OPERATOR = 5;

    /// @dev Anchors and revokes notarized documents.
    uint64 internal constant NOTARY_ISSUER = 6;

    /// @dev Manages datasets, consents and data purchases.
    uint64 internal constant DATA_STEWARD = 7;

    /// @dev Reads and attests; holds no state-changing permission by default.
    uint64 internal constant AUDITOR = 8;

    /// @dev Pauses and unpauses the token (an emergency stop).
    uint64 internal constant PAUSER = 9;

    /**
     * @dev Mints above the token's mint limit. Meant to be granted WITH an execution delay, so that
     * every such mint must first be scheduled through the AccessManager (`schedule`) and can be
     * cancelled by the role's guardian (by default {ADMIN}) before it executes.
     */
    uint64 internal constant TREASURY_LARGE = 10;

    /**
     * @dev Moves a retired account's whole token balance to its replacement. Granted to the
     * ResidentRegistry contract only (without delay), which calls the token from `recover`.
     */
    uint64 internal constant RECOVERY = 11;

    /**
     * @dev The city's payment service (the API): cancels merchants' invoices for them
     * (`PaymentRouter.cancelInvoiceFor`). It never moves tokens.
     */
    uint64 internal constant PAYMENT_OPERATOR = 12;

    /**
     * @dev Runs the RewardsPool's programmes: creates them, sets their caps, switches them on and
     * off, and names each programme's distributors (who then grant from it without any role).
     */
    uint64 internal constant REWARDS_ADMIN = 13;
}
