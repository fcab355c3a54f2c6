// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IRewardsPool
 * @dev The city's rewards in its own token, paid from budgets the treasury funds: participation in
 * votes first (spec section 10 of docs/voting-spec.md), later data provision, volunteering,
 * mobility and healthcare. Each use is a {Programme} with its own budget, its own per-resident cap
 * per period and its own distributors (the services that decide who earned what).
 *
 * A grant is identified by `(programme, resident, evidenceId)`, where `evidenceId` names what was
 * rewarded (for a vote: `keccak256(abi.encode("vote", elections, electionId))`). Repeating a grant
 * with the same amount pays nothing and is not an error, so a payout can always be re-run; the same
 * evidence with another amount is refused.
 *
 * Money never appears or disappears: tokens enter only by {fund} (pulled from the treasury) and
 * leave only by {grant}/{grantBatch} (to residents) and {defund} (back to the treasury), so for
 * every programme `funded == budget + granted + defunded`, and the pool holds the sum of the
 * budgets ({totalBudget}) — plus whatever anyone transferred to it directly, which no programme
 * owns.
 */
interface IRewardsPool {
    /**
     * @dev One rewards programme.
     * @param name a short name, unique in the pool (e.g. "voting").
     * @param budget the funded tokens not yet granted or defunded.
     * @param granted the tokens granted so far.
     * @param funded the tokens funded so far.
     * @param defunded the tokens returned to the treasury so far.
     * @param capPerPeriod the most one resident may be granted in one period.
     * @param periodLength the period in seconds: a grant at time `t` is in period `t / periodLength`.
     * @param active whether grants are paid (funding and defunding work either way).
     */
    struct Programme {
        bytes32 name;
        uint256 budget;
        uint256 granted;
        uint256 funded;
        uint256 defunded;
        uint256 capPerPeriod;
        uint64 periodLength;
        bool active;
    }

    /// @dev Programme `programmeId` was created, active.
    event ProgrammeCreated(uint256 indexed programmeId, bytes32 name, uint256 capPerPeriod, uint64 periodLength);

    /// @dev Programme `programmeId` was switched on or off.
    event ProgrammeActiveSet(uint256 indexed programmeId, bool active);

    /// @dev Programme `programmeId`'s cap per resident and period is now `capPerPeriod`.
    event ProgrammeCapSet(uint256 indexed programmeId, uint256 capPerPeriod);

    /// @dev `account` may (`allowed`) or may no longer grant from programme `programmeId`.
    event DistributorSet(uint256 indexed programmeId, address indexed account, bool allowed);

    /// @dev `from` added `amount` tokens to programme `programmeId`'s budget, now `budget`.
    event ProgrammeFunded(uint256 indexed programmeId, address indexed from, uint256 amount, uint256 budget);

    /// @dev `amount` tokens of programme `programmeId`'s budget went back to `to`; `budget` is left.
    event ProgrammeDefunded(uint256 indexed programmeId, address indexed to, uint256 amount, uint256 budget);

    /// @dev `resident` was granted `amount` tokens for `evidenceId` in period `period`.
    event RewardGranted(
        uint256 indexed programmeId,
        address indexed resident,
        uint256 amount,
        bytes32 indexed evidenceId,
        uint64 period
    );

    /// @dev No programme `programmeId` exists.
    error RewardsPoolUnknownProgramme(uint256 programmeId);

    /// @dev A programme name was empty.
    error RewardsPoolEmptyName();

    /// @dev Programme `programmeId` already has the name `name`.
    error RewardsPoolNameTaken(bytes32 name, uint256 programmeId);

    /// @dev A cap per period of zero (nothing could ever be granted).
    error RewardsPoolZeroCap();

    /// @dev A period of zero seconds.
    error RewardsPoolZeroPeriod();

    /// @dev An amount of zero tokens.
    error RewardsPoolZeroAmount();

    /// @dev An address given was the zero address.
    error RewardsPoolZeroAddress();

    /// @dev An evidence id of zero: every grant must name what it rewards.
    error RewardsPoolEmptyEvidence();

    /// @dev `account` is not a distributor of programme `programmeId`.
    error RewardsPoolNotDistributor(uint256 programmeId, address account);

    /// @dev Programme `programmeId` is switched off: it grants nothing.
    error RewardsPoolProgrammeInactive(uint256 programmeId);

    /// @dev `resident` is not an active account of the registry.
    error RewardsPoolResidentNotActive(address resident);

    /// @dev Granting `amount` would take `resident` over the cap: only `available` is left this period.
    error RewardsPoolCapExceeded(uint256 programmeId, address resident, uint256 amount, uint256 available);

    /// @dev `amount` is more than programme `programmeId`'s `budget`.
    error RewardsPoolInsufficientBudget(uint256 programmeId, uint256 amount, uint256 budget);

    /// @dev `resident` was already granted `granted` tokens for `evidenceId`: a repeat must be the same.
    error RewardsPoolGrantConflict(uint256 programmeId, address resident, bytes32 evidenceId, uint256 granted);

    /// @dev A batch's arrays differ in length.
    error RewardsPoolLengthMismatch(uint256 residents, uint256 amounts, uint256 evidenceIds);

    /// @dev `token` does not use `registry` as its registry.
    error RewardsPoolRegistryMismatch(address token, address registry);

    /// @dev Creates an active programme without budget or distributors; ids start at 1.
    /// Emits a {ProgrammeCreated} event.
    function createProgramme(
        bytes32 name,
        uint256 capPerPeriod,
        uint64 periodLength
    ) external returns (uint256 programmeId);

    /// @dev Switches a programme on or off. Emits a {ProgrammeActiveSet} event.
    function setProgrammeActive(uint256 programmeId, bool active) external;

    /// @dev Sets a programme's cap per resident and period. Emits a {ProgrammeCapSet} event.
    function setProgrammeCap(uint256 programmeId, uint256 capPerPeriod) external;

    /// @dev Lets `account` grant from a programme, or stops it. Emits a {DistributorSet} event.
    function setDistributor(uint256 programmeId, address account, bool allowed) external;

    /// @dev Moves `amount` of the caller's tokens into a programme's budget (the caller must have
    /// approved the pool for `amount`). Emits a {ProgrammeFunded} event.
    function fund(uint256 programmeId, uint256 amount) external;

    /// @dev Returns `amount` of a programme's budget to `to`. Emits a {ProgrammeDefunded} event.
    function defund(uint256 programmeId, uint256 amount, address to) external;

    /**
     * @dev Grants `amount` tokens to `resident` for `evidenceId`; only a distributor of the
     * programme may. Returns false, paying nothing, if exactly this grant was made before.
     *
     * Emits a {RewardGranted} event when it pays.
     */
    function grant(
        uint256 programmeId,
        address resident,
        uint256 amount,
        bytes32 evidenceId
    ) external returns (bool paid);

    /**
     * @dev {grant} for each `(residents[i], amounts[i], evidenceIds[i])`, exact repeats skipped;
     * any other refusal reverts the whole batch. Returns how many grants were paid.
     *
     * Emits a {RewardGranted} event per grant paid.
     */
    function grantBatch(
        uint256 programmeId,
        address[] calldata residents,
        uint256[] calldata amounts,
        bytes32[] calldata evidenceIds
    ) external returns (uint256 paid);

    /// @dev The programme `programmeId` (all zero if none).
    function programmeOf(uint256 programmeId) external view returns (Programme memory);

    /// @dev How many programmes exist; their ids are 1 to this number.
    function programmeCount() external view returns (uint256);

    /// @dev The id of the programme named `name` (0 if none).
    function programmeIdOf(bytes32 name) external view returns (uint256);

    /// @dev Whether `account` may grant from programme `programmeId`.
    function isDistributor(uint256 programmeId, address account) external view returns (bool);

    /// @dev What `resident` was granted for `evidenceId` in programme `programmeId` (0 if nothing).
    function grantOf(uint256 programmeId, address resident, bytes32 evidenceId) external view returns (uint256);

    /// @dev What `resident` was granted from programme `programmeId` in period `period`.
    function grantedInPeriod(uint256 programmeId, address resident, uint64 period) external view returns (uint256);

    /// @dev The period programme `programmeId` is in now.
    function currentPeriod(uint256 programmeId) external view returns (uint64);

    /// @dev The sum of every programme's budget (what the pool owes its programmes).
    function totalBudget() external view returns (uint256);

    /// @dev The token the pool pays in.
    function token() external view returns (address);

    /// @dev The registry that says who is an active account.
    function registry() external view returns (address);
}
