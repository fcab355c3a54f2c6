// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title Probe
 * @dev A small contract that exercises a chain node's JSON-RPC: state changes with events, the
 * three kinds of revert (custom error, reason string, panic), value transfers, raw storage slots,
 * calldata round trips and block context.
 *
 * Storage layout (relied upon by `eth_getStorageAt` tests): slot 0 is {count}, slot 1 is {stored}.
 */
contract Probe {
    /// @dev The largest step {increment} accepts.
    uint256 public constant MAX_STEP = 1000;

    /// @dev Sum of every accepted {increment} step (storage slot 0).
    uint256 public count;

    /// @dev The last value given to {setSlot} (storage slot 1).
    uint256 public stored;

    /**
     * @dev {increment} was asked for a step above {MAX_STEP}.
     * @param given the step asked for.
     * @param max the largest step accepted.
     */
    error ProbeTooLarge(uint256 given, uint256 max);

    /**
     * @dev {count} was raised by `step` to `newCount` by `by`.
     */
    event Incremented(address indexed by, uint256 indexed newCount, uint256 step);

    /**
     * @dev `from` sent `amount` wei through {deposit}.
     */
    event Deposited(address indexed from, uint256 amount);

    /**
     * @dev Adds `by` to {count}.
     * @param by the step; at most {MAX_STEP}, otherwise reverts with {ProbeTooLarge}.
     * @return newCount the value of {count} after the call.
     *
     * Emits an {Incremented} event.
     */
    function increment(uint256 by) external returns (uint256 newCount) {
        if (by > MAX_STEP) revert ProbeTooLarge(by, MAX_STEP);
        newCount = count + by;
        count = newCount;
        emit Incremented(msg.sender, newCount, by);
    }

    /**
     * @dev Always reverts with the reason string "probe: plain reason" (an `Error(string)`).
     */
    function failWithReason() external pure {
        // solhint-disable-next-line reason-string, custom-errors
        require(false, "probe: plain reason");
    }

    /**
     * @dev Always reverts with `Panic(0x12)`: a division by zero.
     * @return never returns.
     */
    function failWithPanic() external pure returns (uint256) {
        uint256 zero = 0;
        return 1 / zero;
    }

    /**
     * @dev Accepts ether.
     *
     * Emits a {Deposited} event.
     */
    function deposit() external payable {
        emit Deposited(msg.sender, msg.value);
    }

    /**
     * @dev Writes `value` to storage slot 1 ({stored}).
     * @param value the word to store.
     */
    function setSlot(uint256 value) external {
        stored = value;
    }

    /**
     * @dev Returns `data` unchanged, to check calldata and return-data encoding end to end.
     * @param data any bytes.
     * @return the same bytes.
     */
    function echo(bytes calldata data) external pure returns (bytes memory) {
        return data;
    }

    /**
     * @dev The block context the EVM sees when this is called.
     * @return number `block.number`.
     * @return timestamp `block.timestamp`.
     * @return chainId `block.chainid`.
     * @return baseFee `block.basefee`.
     * @return coinbase `block.coinbase`.
     */
    function blockInfo()
        external
        view
        returns (uint256 number, uint256 timestamp, uint256 chainId, uint256 baseFee, address coinbase)
    {
        return (block.number, block.timestamp, block.chainid, block.basefee, block.coinbase);
    }
}
