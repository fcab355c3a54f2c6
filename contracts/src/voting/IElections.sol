// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IElections
 * @dev The city's bulletin board for votes (docs/voting-spec.md): secret ballots encrypted under a
 * key made by a threshold of trustees, and public polls counted live. The contract checks who may
 * post what and when; the cryptography (proofs in ballots, trustee blobs, decryptions) is checked
 * off chain by the tally service and by anyone auditing, from the events this contract emits.
 *
 * An election goes `Setup` -> `Open` -> `Closed` -> `Tallied`:
 *
 *   Setup   {create} registers the trustees in order (trustee `i` is the i-th, 1-based). Each posts
 *           its commitments ({postCommitments}), then, once all have, its encrypted shares
 *           ({postShares}); the administrator posts the joint key ({setElectionKey}) and opens.
 *           A public poll has no trustees and no key.
 *   Open    eligible voters (a Merkle tree over the published eligibility list) cast ballots or
 *           votes, themselves or through a relayer with an EIP-712 signature, while
 *           `opensAt <= block.timestamp < closesAt`. Re-voting is allowed; every cast is numbered
 *           per voter (`sequence`, from 1) and only the last one counts.
 *   Closed  anyone closes at `closesAt`; trustees post their partial decryptions.
 *   Tallied the administrator publishes the counts (for a secret ballot once at least `threshold`
 *           trustees posted a decryption; a public poll's counts must equal the live ones).
 *
 * A relayed ballot or vote is signed for one sequence number: the voter's next. Once it is cast
 * the voter's sequence moves on, so no relayer can replay an older signed ballot over a newer one.
 */
interface IElections {
    /// @dev A secret ballot (encrypted, threshold-decrypted) or a public poll (plain, live counts).
    enum ElectionKind {
        PublicPoll,
        SecretBallot
    }

    /// @dev Where an election stands. `None` marks an id never created.
    enum ElectionPhase {
        None,
        Setup,
        Open,
        Closed,
        Tallied
    }

    /**
     * @dev What an election is, fixed at creation.
     * @param kind secret ballot or public poll.
     * @param optionCount the number of options `N`, 2 to 32.
     * @param minSelections the fewest options a ballot selects.
     * @param maxSelections the most options a ballot selects (`min <= max <= N`, `max >= 1`).
     * @param threshold how many trustees must decrypt (`k` of the `n` trustees); 0 for a poll.
     * @param opensAt the first second ballots are accepted.
     * @param closesAt the first second they are not any more.
     * @param quorum the turnout at which the result is valid (0: none).
     * @param eligibleCount the number of accounts in the eligibility list.
     * @param eligibilityRoot the root of the eligibility Merkle tree (OpenZeppelin's standard tree
     * over one `address` per leaf).
     * @param eligibilityListHash keccak256 of the published eligibility list file.
     * @param manifestHash keccak256 of the published description of the vote (question, options).
     * @param rewardAmount the participation reward per counted voter, in tokens (0: none).
     */
    struct ElectionConfig {
        ElectionKind kind;
        uint8 optionCount;
        uint8 minSelections;
        uint8 maxSelections;
        uint8 threshold;
        uint64 opensAt;
        uint64 closesAt;
        uint32 quorum;
        uint32 eligibleCount;
        bytes32 eligibilityRoot;
        bytes32 eligibilityListHash;
        bytes32 manifestHash;
        uint256 rewardAmount;
    }

    /**
     * @dev An election as {electionOf} returns it.
     * @param config its configuration.
     * @param phase where it stands.
     * @param publicKey the election key `K` (33-byte SEC1 compressed; empty until set).
     * @param trustees the trustees in registration order (trustee `i` is `trustees[i - 1]`).
     * @param voterCount how many distinct voters cast at least one ballot or vote.
     * @param commitmentCount how many trustees posted their commitments.
     * @param shareCount how many trustees posted their shares.
     * @param decryptionCount how many trustees posted a partial decryption.
     * @param createdBlock the block the election was created in (its events start there).
     */
    struct ElectionState {
        ElectionConfig config;
        ElectionPhase phase;
        bytes publicKey;
        address[] trustees;
        uint32 voterCount;
        uint8 commitmentCount;
        uint8 shareCount;
        uint8 decryptionCount;
        uint64 createdBlock;
    }

    /**
     * @dev A published result.
     * @param counts one count per option.
     * @param turnout the number of counted ballots.
     * @param quorumMet whether `turnout >= quorum`.
     * @param tallyHash keccak256 of the encoded per-option ciphertext sums (0 for a public poll).
     * @param publishedAt the block timestamp of the publication.
     */
    struct Result {
        uint256[] counts;
        uint32 turnout;
        bool quorumMet;
        bytes32 tallyHash;
        uint64 publishedAt;
    }

    /// @dev The election `electionId` was created with `config`.
    event ElectionCreated(uint256 indexed electionId, ElectionConfig config);

    /// @dev `trustee` is trustee number `index` (1-based) of election `electionId`.
    event TrusteeRegistered(uint256 indexed electionId, uint8 index, address indexed trustee);

    /// @dev Trustee `index` posted its commitments and proofs of possession (spec section 3.1).
    event TrusteeCommitted(uint256 indexed electionId, uint8 index, address indexed trustee, bytes data);

    /// @dev Trustee `index` posted its shares, encrypted to the other trustees (spec section 3.2).
    event TrusteeSharesPosted(uint256 indexed electionId, uint8 index, address indexed trustee, bytes data);

    /// @dev The election key `K` was set (spec section 3.3).
    event ElectionKeySet(uint256 indexed electionId, bytes publicKey);

    /// @dev The election was opened: ballots are accepted from `opensAt` until `closesAt`.
    event ElectionOpened(uint256 indexed electionId);

    /**
     * @dev `voter` cast its `sequence`-th ballot; `ballotHash = keccak256(ballot)` is its tracking
     * code (indexed, so a voter can look it up). The signature is the spec's
     * `BallotCast(uint256,address,uint32,bytes32,bytes)`.
     */
    event BallotCast(
        uint256 indexed electionId,
        address indexed voter,
        uint32 sequence,
        bytes32 indexed ballotHash,
        bytes ballot
    );

    /// @dev `voter` cast its `sequence`-th vote in a public poll: the options whose bits are set.
    event VoteCast(uint256 indexed electionId, address indexed voter, uint32 sequence, uint256 choices);

    /// @dev The election closed with `voterCount` distinct voters.
    event ElectionClosed(uint256 indexed electionId, uint32 voterCount);

    /// @dev Trustee `index` posted its partial decryption of the tally (spec section 8).
    event DecryptionPosted(uint256 indexed electionId, uint8 index, address indexed trustee, bytes data);

    /// @dev The result was published.
    event ResultPublished(
        uint256 indexed electionId,
        uint256[] counts,
        uint32 turnout,
        bool quorumMet,
        bytes32 tallyHash
    );

    /// @dev No election `electionId` was ever created.
    error ElectionsUnknownElection(uint256 electionId);

    /// @dev Election `electionId` is in phase `current`; the call needs phase `required`.
    error ElectionsWrongPhase(uint256 electionId, ElectionPhase current, ElectionPhase required);

    /// @dev Election `electionId` is a `kind`, which this call does not apply to.
    error ElectionsWrongKind(uint256 electionId, ElectionKind kind);

    /// @dev An option count outside 2..32.
    error ElectionsInvalidOptionCount(uint8 optionCount);

    /// @dev Selection bounds that are not `min <= max <= optionCount` with `max >= 1`.
    error ElectionsInvalidSelectionBounds(uint8 minSelections, uint8 maxSelections, uint8 optionCount);

    /**
     * @dev A threshold and trustee count that do not fit the kind: a secret ballot needs
     * `1 <= threshold <= trusteeCount <= 255`, a public poll no trustees and threshold 0.
     */
    error ElectionsInvalidThreshold(uint8 threshold, uint256 trusteeCount);

    /// @dev A trustee given was the zero address.
    error ElectionsZeroTrustee();

    /// @dev `trustee` was given twice.
    error ElectionsDuplicateTrustee(address trustee);

    /// @dev A voting window that does not open before it closes, or closes now or in the past.
    error ElectionsInvalidWindow(uint64 opensAt, uint64 closesAt);

    /// @dev An eligibility list with no root or no accounts.
    error ElectionsInvalidEligibility(bytes32 eligibilityRoot, uint32 eligibleCount);

    /// @dev A quorum above the number of eligible voters, which could never be met.
    error ElectionsInvalidQuorum(uint32 quorum, uint32 eligibleCount);

    /// @dev `account` is not a trustee of election `electionId`.
    error ElectionsNotTrustee(uint256 electionId, address account);

    /// @dev `trustee` already posted this blob for election `electionId`.
    error ElectionsAlreadyPosted(uint256 electionId, address trustee);

    /// @dev A trustee blob was empty.
    error ElectionsEmptyData();

    /// @dev Only `posted` of the `required` trustees posted their commitments.
    error ElectionsCommitmentsIncomplete(uint256 electionId, uint256 posted, uint256 required);

    /// @dev Only `posted` of the `required` trustees posted their shares.
    error ElectionsSharesIncomplete(uint256 electionId, uint256 posted, uint256 required);

    /// @dev An election key that is not a 33-byte compressed point (prefix 0x02 or 0x03).
    error ElectionsInvalidElectionKey(bytes publicKey);

    /// @dev The key of election `electionId` is already set; it is set once.
    error ElectionsKeyAlreadySet(uint256 electionId);

    /// @dev Election `electionId` has no key yet: it cannot open.
    error ElectionsNoElectionKey(uint256 electionId);

    /// @dev Election `electionId` opens for ballots at `opensAt`.
    error ElectionsNotYetOpen(uint256 electionId, uint64 opensAt);

    /// @dev Election `electionId` stopped accepting ballots at `closesAt`.
    error ElectionsVotingClosed(uint256 electionId, uint64 closesAt);

    /// @dev Election `electionId` cannot close before `closesAt`.
    error ElectionsNotYetClosable(uint256 electionId, uint64 closesAt);

    /// @dev `voter` is not in the eligibility tree of election `electionId` (or the proof is wrong).
    error ElectionsNotEligible(uint256 electionId, address voter);

    /// @dev A ballot of `length` bytes; this election's ballots are exactly `expected` bytes.
    error ElectionsInvalidBallotLength(uint256 length, uint256 expected);

    /// @dev A ballot whose header is not version 1 with this election's option count.
    error ElectionsInvalidBallotHeader(uint8 version, uint8 optionCount);

    /// @dev A choice bitmask naming an option that does not exist.
    error ElectionsInvalidChoices(uint256 choices);

    /// @dev A vote selecting `count` options, outside the election's `[min, max]`.
    error ElectionsInvalidSelectionCount(uint256 count, uint8 minSelections, uint8 maxSelections);

    /// @dev A relayed ballot or vote's signature is not the voter's (or is for another sequence).
    error ElectionsInvalidSignature(address voter);

    /// @dev A relayed ballot or vote's authorization expired at `deadline`.
    error ElectionsAuthorizationExpired(uint256 deadline);

    /// @dev Only `posted` decryptions were posted; the result needs `required` (the threshold).
    error ElectionsDecryptionsIncomplete(uint256 electionId, uint256 posted, uint256 required);

    /// @dev A result with `length` counts for an election of `optionCount` options.
    error ElectionsInvalidCountsLength(uint256 length, uint8 optionCount);

    /// @dev A turnout above the `voterCount` distinct voters who cast anything.
    error ElectionsTurnoutAboveVoters(uint32 turnout, uint32 voterCount);

    /// @dev Option `option` counted `count` times, more than the `turnout`.
    error ElectionsCountAboveTurnout(uint256 option, uint256 count, uint32 turnout);

    /// @dev A public poll's posted count of `option` differs from the `live` count on chain.
    error ElectionsCountMismatch(uint256 option, uint256 posted, uint256 live);

    /// @dev A public poll's posted turnout differs from its `voterCount` voters.
    error ElectionsTurnoutMismatch(uint32 turnout, uint32 voterCount);

    /**
     * @dev Creates an election in phase `Setup` with `trustees` in this order. Ids start at 1.
     *
     * Emits an {ElectionCreated} event and a {TrusteeRegistered} event per trustee.
     */
    function create(ElectionConfig calldata config, address[] calldata trustees) external returns (uint256 electionId);

    /// @dev Posts the caller's (a trustee's) commitments. Emits a {TrusteeCommitted} event.
    function postCommitments(uint256 electionId, bytes calldata data) external;

    /// @dev Posts the caller's (a trustee's) encrypted shares. Emits a {TrusteeSharesPosted} event.
    function postShares(uint256 electionId, bytes calldata data) external;

    /// @dev Sets a secret ballot's key once every share is posted. Emits an {ElectionKeySet} event.
    function setElectionKey(uint256 electionId, bytes calldata publicKey) external;

    /// @dev Opens the election for ballots. Emits an {ElectionOpened} event.
    function open(uint256 electionId) external;

    /// @dev Casts the caller's encrypted ballot. Emits a {BallotCast} event.
    function castBallot(uint256 electionId, bytes calldata ballot, bytes32[] calldata eligibilityProof) external;

    /**
     * @dev Casts `voter`'s ballot, which it signed as the EIP-712 message
     * `Ballot(address voter,uint256 electionId,bytes32 ballotHash,uint32 sequence,uint256 deadline)`
     * for its next sequence number. Anyone may relay. Emits a {BallotCast} event.
     */
    function castBallotFor(
        address voter,
        uint256 electionId,
        bytes calldata ballot,
        bytes32[] calldata eligibilityProof,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @dev Casts the caller's vote in a public poll. Emits a {VoteCast} event.
    function castVote(uint256 electionId, uint256 choices, bytes32[] calldata eligibilityProof) external;

    /**
     * @dev Casts `voter`'s vote in a public poll, which it signed as the EIP-712 message
     * `Vote(address voter,uint256 electionId,uint256 choices,uint32 sequence,uint256 deadline)` for
     * its next sequence number. Anyone may relay. Emits a {VoteCast} event.
     */
    function castVoteFor(
        address voter,
        uint256 electionId,
        uint256 choices,
        bytes32[] calldata eligibilityProof,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @dev Closes the election once its window has ended; anyone may. Emits an {ElectionClosed} event.
    function close(uint256 electionId) external;

    /// @dev Posts the caller's (a trustee's) partial decryption. Emits a {DecryptionPosted} event.
    function postDecryption(uint256 electionId, bytes calldata data) external;

    /// @dev Publishes the result of a closed election. Emits a {ResultPublished} event.
    function publishResult(uint256 electionId, uint256[] calldata counts, uint32 turnout, bytes32 tallyHash) external;

    /// @dev The election `electionId` (all zero, phase `None`, if it was never created).
    function electionOf(uint256 electionId) external view returns (ElectionState memory);

    /// @dev How many elections were created; their ids are 1 to this number.
    function electionCount() external view returns (uint256);

    /// @dev The trustee number (1-based) of `account` in election `electionId`, 0 if it is none.
    function trusteeIndexOf(uint256 electionId, address account) external view returns (uint8);

    /// @dev Which of its blobs `trustee` has posted in election `electionId`.
    function postsOf(
        uint256 electionId,
        address trustee
    ) external view returns (bool committed, bool sharesPosted, bool decrypted);

    /// @dev How many ballots or votes `voter` cast in election `electionId` (its last sequence number).
    function sequenceOf(uint256 electionId, address voter) external view returns (uint32);

    /// @dev The tracking code of `voter`'s last ballot in election `electionId` (0 if none).
    function lastBallotHashOf(uint256 electionId, address voter) external view returns (bytes32);

    /// @dev The options `voter` selected in its last vote of public poll `electionId`.
    function choicesOf(uint256 electionId, address voter) external view returns (uint256);

    /// @dev A public poll's live counts, one per option (all zero for a secret ballot).
    function liveCountsOf(uint256 electionId) external view returns (uint256[] memory);

    /// @dev The published result of election `electionId` (empty counts until it is tallied).
    function resultOf(uint256 electionId) external view returns (Result memory);

    /// @dev The exact length of a ballot of election `electionId` (spec section 5).
    function ballotLengthOf(uint256 electionId) external view returns (uint256);
}
