// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Probe} from "./Probe.sol";

/**
 * @title Factory
 * @dev Deploys {Probe} contracts with CREATE2, to test contract creation from inside a call, the
 * addresses it yields and logs emitted by more than one contract in one transaction.
 */
contract Factory {
    /**
     * @dev A {Probe} was created at `probe`.
     */
    event Deployed(address probe);

    /**
     * @dev Creates a {Probe} with CREATE2 under `salt`. Reverts (with no data) if that salt was used.
     * @param salt the CREATE2 salt.
     * @return probe the new contract's address, equal to {predict}(`salt`).
     *
     * Emits a {Deployed} event.
     */
    function deploy(uint256 salt) external returns (address probe) {
        probe = _deploy(salt);
    }

    /**
     * @dev Like {deploy}, then calls {Probe-increment} on the new contract, so one transaction
     * carries logs from two contracts, the second from an internal call.
     * @param salt the CREATE2 salt.
     * @param by the step passed to {Probe-increment}.
     * @return probe the new contract's address.
     *
     * Emits a {Deployed} event, then the new contract emits {Probe-Incremented}.
     */
    function deployAndIncrement(uint256 salt, uint256 by) external returns (address probe) {
        probe = _deploy(salt);
        Probe(probe).increment(by);
    }

    /**
     * @dev The address {deploy} gives for `salt` (EIP-1014).
     * @param salt the CREATE2 salt.
     * @return the address of the {Probe} created under `salt`.
     */
    function predict(uint256 salt) external view returns (address) {
        bytes32 hash = keccak256(
            abi.encodePacked(bytes1(0xff), address(this), bytes32(salt), keccak256(type(Probe).creationCode))
        );
        return address(uint160(uint256(hash)));
    }

    function _deploy(uint256 salt) private returns (address probe) {
        probe = address(new Probe{salt: bytes32(salt)}());
        emit Deployed(probe);
    }
}
