// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessManaged} from "@openzeppelin/contracts/access/manager/AccessManaged.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

import {IResidentRegistry} from "../registry/IResidentRegistry.sol";
import {ICityToken} from "../token/ICityToken.sol";
import {IRewardsPool} from "./IRewardsPool.sol";

/**
 * @title RewardsPool
 * @dev The city's reward programmes (see {IRewardsPool} for the model). To hold tokens the pool
 * must be an active account of the registry (the deployment registers it as a `CityService`).
 *
 * Every external function checks, then writes its state and emits its events, and only then calls
 * the token (checks-effects-interactions); {grantBatch} records every grant of the batch before it
 * makes the first transfer. The token is the city's own ERC-20 without transfer hooks, so no call
 * can re-enter; should one revert (a paused token, a frozen recipient), the whole transaction does.
 *
 * A resident's grants in a period are summed per programme; lowering a cap below what a resident
 * already had in the current period leaves it nothing more for that period. The period length is
 * fixed at creation, so period numbers never change meaning.
 *
 * Restricted functions are authorized by the city's AccessManager. Which role may call which is
 * decided in one place, `FUNCTION_ROLES` in `ledger/roles.py`, which the deployment applies; each
 * function below names its role, and a test keeps those names equal to `FUNCTION_ROLES`.
 * {grant} and {grantBatch} are open to each programme's distributors, which the rewards
 * administrator names.
 */
contract RewardsPool is IRewardsPool, AccessManaged {
    using SafeERC20 for IERC20;

    IERC20 private immutable _token;

    IResidentRegistry private immutable _registry;

    uint256 private _programmeCount;

    uint256 private _totalBudget;

    mapping(uint256 programmeId => Programme) private _programmes;

    mapping(bytes32 name => uint256 programmeId) private _programmeIds;

    mapping(uint256 programmeId => mapping(address account => bool)) private _distributors;

    mapping(uint256 programmeId => mapping(address resident => mapping(bytes32 evidenceId => uint256 amount)))
        private _grants;

    mapping(uint256 programmeId => mapping(address resident => mapping(uint64 period => uint256 amount)))
        private _grantedInPeriod;

    /**
     * @dev Creates the pool with no programme.
     * @param initialAuthority the city's AccessManager.
     * @param token_ the city token; not zero.
     * @param registry_ the token's resident registry; not zero.
     */
    constructor(address initialAuthority, address token_, address registry_) AccessManaged(initialAuthority) {
        if (token_ == address(0) || registry_ == address(0)) revert RewardsPoolZeroAddress();
        if (ICityToken(token_).registry() != registry_) revert RewardsPoolRegistryMismatch(token_, registry_);
        _token = IERC20(token_);
        _registry = IResidentRegistry(registry_);
    }

    // -- programmes -------------------------------------------------------------------------------

    /**
     * @dev Creates an active programme without budget or distributors. Restricted (REWARDS_ADMIN).
     * @param name not zero, not the name of another programme.
     * @param capPerPeriod the most one resident may be granted per period; not zero.
     * @param periodLength the period in seconds; not zero.
     * @return programmeId the new programme's id (ids start at 1).
     *
     * Emits a {ProgrammeCreated} event.
     */
    function createProgramme(
        bytes32 name,
        uint256 capPerPeriod,
        uint64 periodLength
    ) external restricted returns (uint256 programmeId) {
        if (name == bytes32(0)) revert RewardsPoolEmptyName();
        uint256 existing = _programmeIds[name];
        if (existing != 0) revert RewardsPoolNameTaken(name, existing);
        if (capPerPeriod == 0) revert RewardsPoolZeroCap();
        if (periodLength == 0) revert RewardsPoolZeroPeriod();
        programmeId = ++_programmeCount;
        _programmes[programmeId] = Programme({
            name: name,
            budget: 0,
            granted: 0,
            funded: 0,
            defunded: 0,
            capPerPeriod: capPerPeriod,
            periodLength: periodLength,
            active: true
        });
        _programmeIds[name] = programmeId;
        emit ProgrammeCreated(programmeId, name, capPerPeriod, periodLength);
    }

    /**
     * @dev Switches a programme on or off (off: {grant} refuses; funding still works). Restricted
     * (REWARDS_ADMIN).
     *
     * Emits a {ProgrammeActiveSet} event.
     */
    function setProgrammeActive(uint256 programmeId, bool active) external restricted {
        _requireProgramme(programmeId).active = active;
        emit ProgrammeActiveSet(programmeId, active);
    }

    /**
     * @dev Sets a programme's cap per resident and period. Restricted (REWARDS_ADMIN).
     * @param capPerPeriod not zero.
     *
     * Emits a {ProgrammeCapSet} event.
     */
    function setProgrammeCap(uint256 programmeId, uint256 capPerPeriod) external restricted {
        Programme storage programme = _requireProgramme(programmeId);
        if (capPerPeriod == 0) revert RewardsPoolZeroCap();
        programme.capPerPeriod = capPerPeriod;
        emit ProgrammeCapSet(programmeId, capPerPeriod);
    }

    /**
     * @dev Lets `account` grant from a programme (`allowed`), or stops it. Restricted
     * (REWARDS_ADMIN).
     * @param account not zero.
     *
     * Emits a {DistributorSet} event.
     */
    function setDistributor(uint256 programmeId, address account, bool allowed) external restricted {
        _requireProgramme(programmeId);
        if (account == address(0)) revert RewardsPoolZeroAddress();
        _distributors[programmeId][account] = allowed;
        emit DistributorSet(programmeId, account, allowed);
    }

    // -- money in and out -------------------------------------------------------------------------

    /**
     * @dev Moves `amount` of the caller's tokens into a programme's budget. Restricted (TREASURY).
     * The caller must be an active account holding `amount` and have approved the pool for it.
     * @param amount not zero.
     *
     * Emits a {ProgrammeFunded} event (and the token's {Transfer}).
     */
    function fund(uint256 programmeId, uint256 amount) external restricted {
        Programme storage programme = _requireProgramme(programmeId);
        if (amount == 0) revert RewardsPoolZeroAmount();
        address from = _msgSender();
        uint256 budget = programme.budget + amount;
        programme.budget = budget;
        programme.funded += amount;
        _totalBudget += amount;
        emit ProgrammeFunded(programmeId, from, amount, budget);
        _token.safeTransferFrom(from, address(this), amount);
    }

    /**
     * @dev Returns `amount` of a programme's unspent budget to `to`. Restricted (TREASURY).
     * @param amount not zero, at most the budget.
     * @param to an active account; not zero.
     *
     * Emits a {ProgrammeDefunded} event (and the token's {Transfer}).
     */
    function defund(uint256 programmeId, uint256 amount, address to) external restricted {
        Programme storage programme = _requireProgramme(programmeId);
        if (to == address(0)) revert RewardsPoolZeroAddress();
        if (amount == 0) revert RewardsPoolZeroAmount();
        uint256 budget = programme.budget;
        if (amount > budget) revert RewardsPoolInsufficientBudget(programmeId, amount, budget);
        // amount <= budget <= _totalBudget was checked above.
        unchecked {
            budget -= amount;
            _totalBudget -= amount;
        }
        programme.budget = budget;
        programme.defunded += amount;
        emit ProgrammeDefunded(programmeId, to, amount, budget);
        _token.safeTransfer(to, amount);
    }

    // -- grants -----------------------------------------------------------------------------------

    /**
     * @dev Grants `amount` tokens to `resident` for `evidenceId`. Only a distributor of the
     * programme may.
     * @param resident an active account.
     * @param amount not zero; within the resident's cap for this period and the budget.
     * @param evidenceId what is rewarded; not zero. If `resident` was granted exactly `amount` for it
     * before, nothing is paid and the call returns false; another amount is refused.
     * @return paid whether tokens were paid.
     *
     * Emits a {RewardGranted} event (and the token's {Transfer}) when it pays.
     */
    function grant(
        uint256 programmeId,
        address resident,
        uint256 amount,
        bytes32 evidenceId
    ) external returns (bool paid) {
        Programme storage programme = _requireDistributor(programmeId);
        paid = _record(programmeId, programme, resident, amount, evidenceId);
        if (paid) _token.safeTransfer(resident, amount);
    }

    /**
     * @dev {grant} for each `(residents[i], amounts[i], evidenceIds[i])`, in order; exact repeats
     * (also within the batch) are skipped, any other refusal reverts the whole batch. Only a
     * distributor of the programme may.
     * @return paid how many grants were paid.
     *
     * Emits a {RewardGranted} event (and the token's {Transfer}) per grant paid.
     */
    function grantBatch(
        uint256 programmeId,
        address[] calldata residents,
        uint256[] calldata amounts,
        bytes32[] calldata evidenceIds
    ) external returns (uint256 paid) {
        uint256 count = residents.length;
        if (amounts.length != count || evidenceIds.length != count) {
            revert RewardsPoolLengthMismatch(count, amounts.length, evidenceIds.length);
        }
        Programme storage programme = _requireDistributor(programmeId);
        bool[] memory pays = new bool[](count);
        for (uint256 i = 0; i < count; ++i) {
            if (_record(programmeId, programme, residents[i], amounts[i], evidenceIds[i])) {
                pays[i] = true;
                ++paid;
            }
        }
        for (uint256 i = 0; i < count; ++i) {
            if (pays[i]) _token.safeTransfer(residents[i], amounts[i]);
        }
    }

    // -- views ------------------------------------------------------------------------------------

    /// @inheritdoc IRewardsPool
    function programmeOf(uint256 programmeId) external view returns (Programme memory) {
        return _programmes[programmeId];
    }

    /// @inheritdoc IRewardsPool
    function programmeCount() external view returns (uint256) {
        return _programmeCount;
    }

    /// @inheritdoc IRewardsPool
    function programmeIdOf(bytes32 name) external view returns (uint256) {
        return _programmeIds[name];
    }

    /// @inheritdoc IRewardsPool
    function isDistributor(uint256 programmeId, address account) external view returns (bool) {
        return _distributors[programmeId][account];
    }

    /// @inheritdoc IRewardsPool
    function grantOf(uint256 programmeId, address resident, bytes32 evidenceId) external view returns (uint256) {
        return _grants[programmeId][resident][evidenceId];
    }

    /// @inheritdoc IRewardsPool
    function grantedInPeriod(uint256 programmeId, address resident, uint64 period) external view returns (uint256) {
        return _grantedInPeriod[programmeId][resident][period];
    }

    /// @inheritdoc IRewardsPool
    function currentPeriod(uint256 programmeId) external view returns (uint64) {
        return _periodOf(_requireProgramme(programmeId));
    }

    /// @inheritdoc IRewardsPool
    function totalBudget() external view returns (uint256) {
        return _totalBudget;
    }

    /// @inheritdoc IRewardsPool
    function token() external view returns (address) {
        return address(_token);
    }

    /// @inheritdoc IRewardsPool
    function registry() external view returns (address) {
        return address(_registry);
    }

    // -- internals --------------------------------------------------------------------------------

    /**
     * @dev Checks and records one grant (see {grant}) and emits {RewardGranted}; moves no token.
     * Returns false for an exact repeat, which changes nothing.
     */
    function _record(
        uint256 programmeId,
        Programme storage programme,
        address resident,
        uint256 amount,
        bytes32 evidenceId
    ) private returns (bool) {
        if (evidenceId == bytes32(0)) revert RewardsPoolEmptyEvidence();
        uint256 previous = _grants[programmeId][resident][evidenceId];
        if (previous != 0) {
            if (previous == amount) return false;
            revert RewardsPoolGrantConflict(programmeId, resident, evidenceId, previous);
        }
        if (!programme.active) revert RewardsPoolProgrammeInactive(programmeId);
        if (amount == 0) revert RewardsPoolZeroAmount();
        if (!_registry.isActive(resident)) revert RewardsPoolResidentNotActive(resident);
        uint64 period = _periodOf(programme);
        uint256 used = _grantedInPeriod[programmeId][resident][period];
        uint256 cap = programme.capPerPeriod;
        uint256 available = used < cap ? cap - used : 0;
        if (amount > available) revert RewardsPoolCapExceeded(programmeId, resident, amount, available);
        uint256 budget = programme.budget;
        if (amount > budget) revert RewardsPoolInsufficientBudget(programmeId, amount, budget);
        _grants[programmeId][resident][evidenceId] = amount;
        _grantedInPeriod[programmeId][resident][period] = used + amount;
        // amount <= budget <= _totalBudget was checked above.
        unchecked {
            programme.budget = budget - amount;
            _totalBudget -= amount;
        }
        programme.granted += amount;
        emit RewardGranted(programmeId, resident, amount, evidenceId, period);
        return true;
    }

    /// @dev The programme `programmeId`, whose distributor the caller must be.
    function _requireDistributor(uint256 programmeId) private view returns (Programme storage programme) {
        programme = _requireProgramme(programmeId);
        address caller = _msgSender();
        if (!_distributors[programmeId][caller]) revert RewardsPoolNotDistributor(programmeId, caller);
    }

    /// @dev The programme `programmeId`, which must exist.
    function _requireProgramme(uint256 programmeId) private view returns (Programme storage programme) {
        programme = _programmes[programmeId];
        if (programme.periodLength == 0) revert RewardsPoolUnknownProgramme(programmeId);
    }

    /// @dev The period `programme` is in now. A uint64 holds it: it is at most the timestamp.
    function _periodOf(Programme storage programme) private view returns (uint64) {
        return uint64(block.timestamp / programme.periodLength);
    }
}
