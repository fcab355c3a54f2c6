// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/**
 * @title BenchToken
 * @dev A whole-unit ERC-20 (no decimals) for benchmarks and chain tests. The deployer receives the
 * whole initial supply and can fund many senders in one transaction with {distribute}.
 */
contract BenchToken is ERC20 {
    /**
     * @dev Mints `initialSupply` whole tokens to the deployer.
     * @param initialSupply number of tokens minted to `msg.sender`.
     *
     * Emits a {Transfer} event from the zero address.
     */
    constructor(uint256 initialSupply) ERC20("Bench Token", "BENCH") {
        _mint(_msgSender(), initialSupply);
    }

    /**
     * @dev Tokens are indivisible: balances are counted in whole units.
     */
    function decimals() public pure override returns (uint8) {
        return 0;
    }

    /**
     * @dev Transfers `amountEach` tokens from the caller to every address in `to`.
     * Reverts with {ERC20InsufficientBalance} as soon as the caller runs out.
     * @param to recipients; an address listed twice is paid twice.
     * @param amountEach tokens sent to each recipient.
     *
     * Emits one {Transfer} event per recipient.
     */
    function distribute(address[] calldata to, uint256 amountEach) external {
        address from = _msgSender();
        uint256 length = to.length;
        for (uint256 i = 0; i < length; ++i) {
            _transfer(from, to[i], amountEach);
        }
    }
}
