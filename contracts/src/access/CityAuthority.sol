// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessManager} from "@openzeppelin/contracts/access/manager/AccessManager.sol";

/**
 * @title CityAuthority
 * @dev The city's single authority: OpenZeppelin's {AccessManager} unchanged. It exists as a
 * project contract only so that the compile script emits an artifact for it; it adds no code.
 *
 * The role ids and the role of every restricted function are defined once, in `ledger/roles.py`
 * (`Role`, `FUNCTION_ROLES`); no contract names a role id. `initialAdmin` holds `ADMIN_ROLE`
 * (role 0) from construction; the deployment grants the other roles, maps every restricted
 * selector of every city contract to its role, and finally hands `ADMIN_ROLE` to the city's
 * configured admin account.
 */
contract CityAuthority is AccessManager {
    /**
     * @dev Creates the authority with `initialAdmin` as its first admin (role 0, no delay).
     * @param initialAdmin the account that receives `ADMIN_ROLE`; must not be the zero address.
     */
    constructor(address initialAdmin) AccessManager(initialAdmin) {}
}
