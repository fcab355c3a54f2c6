// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {AccessManaged} from "@openzeppelin/contracts/access/manager/AccessManaged.sol";
import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";

import {IElections} from "./IElections.sol";

/**
 * @title Elections
 * @dev The city's votes on chain (see {IElections} for the phases and docs/voting-spec.md for the
 * scheme). The contract enforces who may post what and when, keeps per voter only a sequence
 * number and the last ballot's hash (or, in a public poll, the last selection, so that the live
 * counts can move with a re-vote), and emits everything a verifier needs; it never sees a
 * plaintext selection of a secret ballot and checks no proof.
 *
 * What it checks of a ballot is its form: exactly `2 + 194 * N + 64 * (max - min + 1)` bytes
 * (spec section 5) starting with version 1 and `N`. Trustee blobs must only be non-empty: their
 * content is checked by every trustee and verifier (spec sections 3 and 8), and an election whose
 * ceremony fails is abandoned in `Setup` (the administrator creates another).
 *
 * Eligibility is a Merkle proof against the election's root, the leaf of OpenZeppelin's standard
 * tree for an `address`: `keccak256(bytes.concat(keccak256(abi.encode(voter))))`.
 *
 * A secret ballot that nobody voted in (`voterCount == 0`) may be published as all zeros without
 * decryptions (spec section 8: no ballot is counted, so there is nothing to decrypt); any other
 * secret-ballot result needs at least `threshold` posted decryptions.
 *
 * Restricted functions are authorized by the city's AccessManager. Which role may call which is
 * decided in one place, `FUNCTION_ROLES` in `ledger/roles.py`, which the deployment applies; each
 * function below names its role, and a test keeps those names equal to `FUNCTION_ROLES`.
 * Trustees and voters act only for themselves (voters also through a relayer, with their
 * EIP-712 signature).
 */
contract Elections is IElections, AccessManaged, EIP712 {
    /// @dev The EIP-712 type a voter signs to have a ballot relayed ({castBallotFor}).
    bytes32 private constant BALLOT_TYPEHASH =
        keccak256("Ballot(address voter,uint256 electionId,bytes32 ballotHash,uint32 sequence,uint256 deadline)");

    /// @dev The EIP-712 type a voter signs to have a public-poll vote relayed ({castVoteFor}).
    bytes32 private constant VOTE_TYPEHASH =
        keccak256("Vote(address voter,uint256 electionId,uint256 choices,uint32 sequence,uint256 deadline)");

    uint8 private constant MIN_OPTIONS = 2;
    uint8 private constant MAX_OPTIONS = 32;
    uint256 private constant MAX_TRUSTEES = 255;

    uint8 private constant BALLOT_VERSION = 1;
    /// @dev Bytes of one option in a ballot: alpha, beta (33 each) and a 0/1 proof (4 x 32).
    uint256 private constant OPTION_BYTES = 194;
    /// @dev Bytes per branch `j` of the sum's range proof: `c_j` and `u_j` (32 each).
    uint256 private constant BRANCH_BYTES = 64;
    uint256 private constant KEY_LENGTH = 33;

    uint8 private constant POSTED_COMMITMENTS = 1;
    uint8 private constant POSTED_SHARES = 2;
    uint8 private constant POSTED_DECRYPTION = 4;

    /// @dev One election's state; the config is copied as created.
    struct Election {
        ElectionConfig config;
        ElectionPhase phase;
        uint8 commitmentCount;
        uint8 shareCount;
        uint8 decryptionCount;
        uint32 voterCount;
        uint64 createdBlock;
        bytes publicKey;
        address[] trustees;
    }

    /// @dev One voter in one election: its last sequence number, and what it cast last.
    struct Voter {
        uint32 sequence;
        uint32 choices;
        bytes32 lastBallotHash;
    }

    uint256 private _electionCount;

    mapping(uint256 electionId => Election) private _elections;

    mapping(uint256 electionId => mapping(address account => uint8 index)) private _trusteeIndex;

    mapping(uint256 electionId => mapping(address trustee => uint8 posted)) private _posted;

    mapping(uint256 electionId => mapping(address voter => Voter)) private _voters;

    mapping(uint256 electionId => uint32[32]) private _liveCounts;

    mapping(uint256 electionId => Result) private _results;

    /**
     * @dev Creates the contract with no election.
     * @param initialAuthority the city's AccessManager.
     */
    constructor(address initialAuthority) AccessManaged(initialAuthority) EIP712("CityLedger Elections", "1") {}

    // -- setup ------------------------------------------------------------------------------------

    /**
     * @dev Creates an election in phase `Setup`. Restricted (ELECTION_ADMIN).
     * @param config 2 to 32 options; `min <= max <= optionCount`, `max >= 1`; a window that opens
     * before it closes and closes in the future; a non-zero eligibility root and count; a quorum
     * of at most the eligible count. A secret ballot has `1 <= threshold <= trustees.length <= 255`,
     * a public poll threshold 0.
     * @param trustees the trustees in order (trustee `i` is `trustees[i - 1]`): distinct, not
     * zero; none for a public poll.
     * @return electionId the new election's id (ids start at 1).
     *
     * Emits an {ElectionCreated} event and a {TrusteeRegistered} event per trustee.
     */
    function create(
        ElectionConfig calldata config,
        address[] calldata trustees
    ) external restricted returns (uint256 electionId) {
        _validate(config, trustees.length);
        electionId = ++_electionCount;
        Election storage election = _elections[electionId];
        election.config = config;
        election.phase = ElectionPhase.Setup;
        // A uint64 holds any block number this chain will reach.
        election.createdBlock = uint64(block.number);
        emit ElectionCreated(electionId, config);
        for (uint256 i = 0; i < trustees.length; ++i) {
            address trustee = trustees[i];
            if (trustee == address(0)) revert ElectionsZeroTrustee();
            if (_trusteeIndex[electionId][trustee] != 0) revert ElectionsDuplicateTrustee(trustee);
            // trustees.length <= 255 was checked by _validate.
            uint8 index = uint8(i + 1);
            _trusteeIndex[electionId][trustee] = index;
            election.trustees.push(trustee);
            emit TrusteeRegistered(electionId, index, trustee);
        }
    }

    /**
     * @dev Posts the caller's commitments and proofs of possession (spec section 3.1).
     * @param electionId an election in `Setup` of which the caller is a trustee that has not posted
     * its commitments yet.
     * @param data the commitment blob; not empty (its content is checked off chain).
     *
     * Emits a {TrusteeCommitted} event.
     */
    function postCommitments(uint256 electionId, bytes calldata data) external {
        Election storage election = _requirePhase(electionId, ElectionPhase.Setup);
        (address trustee, uint8 index) = _requireTrustee(electionId);
        _markPosted(electionId, trustee, POSTED_COMMITMENTS, data);
        // At most one per trustee, so at most 255.
        ++election.commitmentCount;
        emit TrusteeCommitted(electionId, index, trustee, data);
    }

    /**
     * @dev Posts the caller's shares, encrypted to the other trustees (spec section 3.2).
     * @param electionId an election in `Setup` whose trustees have all posted their commitments, of
     * which the caller is a trustee that has not posted its shares yet.
     * @param data the share blob; not empty.
     *
     * Emits a {TrusteeSharesPosted} event.
     */
    function postShares(uint256 electionId, bytes calldata data) external {
        Election storage election = _requirePhase(electionId, ElectionPhase.Setup);
        (address trustee, uint8 index) = _requireTrustee(electionId);
        uint256 trusteeCount = election.trustees.length;
        if (election.commitmentCount < trusteeCount) {
            revert ElectionsCommitmentsIncomplete(electionId, election.commitmentCount, trusteeCount);
        }
        _markPosted(electionId, trustee, POSTED_SHARES, data);
        ++election.shareCount;
        emit TrusteeSharesPosted(electionId, index, trustee, data);
    }

    /**
     * @dev Sets the election key `K = sum_i K_i0` (spec section 3.3), once. Restricted
     * (ELECTION_ADMIN).
     * @param electionId a secret ballot in `Setup` whose trustees have all posted their shares.
     * @param publicKey 33 bytes, SEC1 compressed (first byte 0x02 or 0x03).
     *
     * Emits an {ElectionKeySet} event.
     */
    function setElectionKey(uint256 electionId, bytes calldata publicKey) external restricted {
        Election storage election = _requireKind(electionId, ElectionKind.SecretBallot);
        _requireIn(election, electionId, ElectionPhase.Setup);
        uint256 trusteeCount = election.trustees.length;
        if (election.shareCount < trusteeCount) {
            revert ElectionsSharesIncomplete(electionId, election.shareCount, trusteeCount);
        }
        if (election.publicKey.length != 0) revert ElectionsKeyAlreadySet(electionId);
        if (publicKey.length != KEY_LENGTH || (publicKey[0] != 0x02 && publicKey[0] != 0x03)) {
            revert ElectionsInvalidElectionKey(publicKey);
        }
        election.publicKey = publicKey;
        emit ElectionKeySet(electionId, publicKey);
    }

    /**
     * @dev Opens the election for ballots (accepted from `opensAt`). Restricted (ELECTION_ADMIN).
     * @param electionId an election in `Setup`, before its `closesAt`; a secret ballot needs its key.
     *
     * Emits an {ElectionOpened} event.
     */
    function open(uint256 electionId) external restricted {
        Election storage election = _requirePhase(electionId, ElectionPhase.Setup);
        if (election.config.kind == ElectionKind.SecretBallot && election.publicKey.length == 0) {
            revert ElectionsNoElectionKey(electionId);
        }
        uint64 closesAt = election.config.closesAt;
        if (block.timestamp >= closesAt) revert ElectionsVotingClosed(electionId, closesAt);
        election.phase = ElectionPhase.Open;
        emit ElectionOpened(electionId);
    }

    // -- voting -----------------------------------------------------------------------------------

    /**
     * @dev Casts the caller's encrypted ballot (a re-vote replaces the last one for counting).
     * @param electionId an open secret ballot, `opensAt <= block.timestamp < closesAt`.
     * @param ballot exactly {ballotLengthOf} bytes, version 1 and the election's option count first.
     * @param eligibilityProof the Merkle proof of the caller's address against the election's root.
     *
     * Emits a {BallotCast} event.
     */
    function castBallot(uint256 electionId, bytes calldata ballot, bytes32[] calldata eligibilityProof) external {
        Election storage election = _requireVoting(electionId, ElectionKind.SecretBallot);
        _castBallot(election, electionId, _msgSender(), ballot, keccak256(ballot), eligibilityProof);
    }

    /**
     * @dev Casts `voter`'s ballot, which it signed as the EIP-712 message
     * `Ballot(address voter,uint256 electionId,bytes32 ballotHash,uint32 sequence,uint256 deadline)`
     * (domain "CityLedger Elections", version "1") with `ballotHash = keccak256(ballot)` and
     * `sequence` its next sequence number ({sequenceOf} + 1). Anyone may relay it; once cast, the
     * signature is for a past sequence and cannot be replayed.
     * @param voter the voter; eligible, it signed the message (65 bytes, or ERC-1271).
     * @param electionId an open secret ballot, `opensAt <= block.timestamp < closesAt`.
     * @param ballot exactly {ballotLengthOf} bytes, version 1 and the election's option count first.
     * @param eligibilityProof the Merkle proof of `voter` against the election's root.
     * @param deadline the last second the signature is valid.
     * @param signature the voter's signature.
     *
     * Emits a {BallotCast} event.
     */
    function castBallotFor(
        address voter,
        uint256 electionId,
        bytes calldata ballot,
        bytes32[] calldata eligibilityProof,
        uint256 deadline,
        bytes calldata signature
    ) external {
        if (block.timestamp > deadline) revert ElectionsAuthorizationExpired(deadline);
        Election storage election = _requireVoting(electionId, ElectionKind.SecretBallot);
        bytes32 ballotHash = keccak256(ballot);
        uint32 sequence = _voters[electionId][voter].sequence + 1;
        _requireSigned(
            voter,
            keccak256(abi.encode(BALLOT_TYPEHASH, voter, electionId, ballotHash, sequence, deadline)),
            signature
        );
        _castBallot(election, electionId, voter, ballot, ballotHash, eligibilityProof);
    }

    /**
     * @dev Casts the caller's vote in a public poll (a re-vote moves its selection in the counts).
     * @param electionId an open public poll, `opensAt <= block.timestamp < closesAt`.
     * @param choices a bitmask of options (bit `o` for option `o < optionCount`) selecting between
     * `minSelections` and `maxSelections` of them.
     * @param eligibilityProof the Merkle proof of the caller's address against the election's root.
     *
     * Emits a {VoteCast} event.
     */
    function castVote(uint256 electionId, uint256 choices, bytes32[] calldata eligibilityProof) external {
        Election storage election = _requireVoting(electionId, ElectionKind.PublicPoll);
        _castVote(election, electionId, _msgSender(), choices, eligibilityProof);
    }

    /**
     * @dev Casts `voter`'s vote in a public poll, which it signed as the EIP-712 message
     * `Vote(address voter,uint256 electionId,uint256 choices,uint32 sequence,uint256 deadline)`
     * (domain "CityLedger Elections", version "1") for its next sequence number. Anyone may relay.
     * @param voter the voter; eligible, it signed the message.
     * @param electionId an open public poll, `opensAt <= block.timestamp < closesAt`.
     * @param choices as in {castVote}.
     * @param eligibilityProof the Merkle proof of `voter` against the election's root.
     * @param deadline the last second the signature is valid.
     * @param signature the voter's signature.
     *
     * Emits a {VoteCast} event.
     */
    function castVoteFor(
        address voter,
        uint256 electionId,
        uint256 choices,
        bytes32[] calldata eligibilityProof,
        uint256 deadline,
        bytes calldata signature
    ) external {
        if (block.timestamp > deadline) revert ElectionsAuthorizationExpired(deadline);
        Election storage election = _requireVoting(electionId, ElectionKind.PublicPoll);
        uint32 sequence = _voters[electionId][voter].sequence + 1;
        _requireSigned(
            voter,
            keccak256(abi.encode(VOTE_TYPEHASH, voter, electionId, choices, sequence, deadline)),
            signature
        );
        _castVote(election, electionId, voter, choices, eligibilityProof);
    }

    // -- closing and the result -------------------------------------------------------------------

    /**
     * @dev Closes an open election once its window has ended. Anyone may.
     * @param electionId an open election with `block.timestamp >= closesAt`.
     *
     * Emits an {ElectionClosed} event.
     */
    function close(uint256 electionId) external {
        Election storage election = _requirePhase(electionId, ElectionPhase.Open);
        uint64 closesAt = election.config.closesAt;
        if (block.timestamp < closesAt) revert ElectionsNotYetClosable(electionId, closesAt);
        election.phase = ElectionPhase.Closed;
        emit ElectionClosed(electionId, election.voterCount);
    }

    /**
     * @dev Posts the caller's partial decryption of the tally with its proofs (spec section 8).
     * @param electionId a closed election of which the caller is a trustee that has not posted one.
     * @param data the decryption blob; not empty.
     *
     * Emits a {DecryptionPosted} event.
     */
    function postDecryption(uint256 electionId, bytes calldata data) external {
        Election storage election = _requirePhase(electionId, ElectionPhase.Closed);
        (address trustee, uint8 index) = _requireTrustee(electionId);
        _markPosted(electionId, trustee, POSTED_DECRYPTION, data);
        ++election.decryptionCount;
        emit DecryptionPosted(electionId, index, trustee, data);
    }

    /**
     * @dev Publishes the result of a closed election. Restricted (ELECTION_ADMIN).
     * @param electionId a closed election. A secret ballot needs `threshold` posted decryptions
     * (none if nobody voted); a public poll's counts and turnout must equal the live ones.
     * @param counts one count per option, each at most `turnout`.
     * @param turnout the number of counted ballots, at most the number of voters.
     * @param tallyHash keccak256 of the encoded ciphertext sums (spec section 8; 0 for a poll).
     *
     * Emits a {ResultPublished} event.
     */
    function publishResult(
        uint256 electionId,
        uint256[] calldata counts,
        uint32 turnout,
        bytes32 tallyHash
    ) external restricted {
        Election storage election = _requirePhase(electionId, ElectionPhase.Closed);
        ElectionConfig storage config = election.config;
        uint8 optionCount = config.optionCount;
        if (counts.length != optionCount) revert ElectionsInvalidCountsLength(counts.length, optionCount);
        uint32 voterCount = election.voterCount;
        if (config.kind == ElectionKind.SecretBallot) {
            if (voterCount != 0 && election.decryptionCount < config.threshold) {
                revert ElectionsDecryptionsIncomplete(electionId, election.decryptionCount, config.threshold);
            }
            if (turnout > voterCount) revert ElectionsTurnoutAboveVoters(turnout, voterCount);
            for (uint256 o = 0; o < optionCount; ++o) {
                if (counts[o] > turnout) revert ElectionsCountAboveTurnout(o, counts[o], turnout);
            }
        } else {
            if (turnout != voterCount) revert ElectionsTurnoutMismatch(turnout, voterCount);
            uint32[32] storage live = _liveCounts[electionId];
            for (uint256 o = 0; o < optionCount; ++o) {
                if (counts[o] != live[o]) revert ElectionsCountMismatch(o, counts[o], live[o]);
            }
        }
        bool quorumMet = turnout >= config.quorum;
        election.phase = ElectionPhase.Tallied;
        Result storage result = _results[electionId];
        result.counts = counts;
        result.turnout = turnout;
        result.quorumMet = quorumMet;
        result.tallyHash = tallyHash;
        // A uint64 holds any timestamp for the next 5 * 10^11 years.
        result.publishedAt = uint64(block.timestamp);
        emit ResultPublished(electionId, counts, turnout, quorumMet, tallyHash);
    }

    // -- views ------------------------------------------------------------------------------------

    /// @inheritdoc IElections
    function electionOf(uint256 electionId) external view returns (ElectionState memory) {
        Election storage election = _elections[electionId];
        return
            ElectionState({
                config: election.config,
                phase: election.phase,
                publicKey: election.publicKey,
                trustees: election.trustees,
                voterCount: election.voterCount,
                commitmentCount: election.commitmentCount,
                shareCount: election.shareCount,
                decryptionCount: election.decryptionCount,
                createdBlock: election.createdBlock
            });
    }

    /// @inheritdoc IElections
    function electionCount() external view returns (uint256) {
        return _electionCount;
    }

    /// @inheritdoc IElections
    function trusteeIndexOf(uint256 electionId, address account) external view returns (uint8) {
        return _trusteeIndex[electionId][account];
    }

    /// @inheritdoc IElections
    function postsOf(
        uint256 electionId,
        address trustee
    ) external view returns (bool committed, bool sharesPosted, bool decrypted) {
        uint8 posted = _posted[electionId][trustee];
        return (
            posted & POSTED_COMMITMENTS != 0,
            posted & POSTED_SHARES != 0,
            posted & POSTED_DECRYPTION != 0
        );
    }

    /// @inheritdoc IElections
    function sequenceOf(uint256 electionId, address voter) external view returns (uint32) {
        return _voters[electionId][voter].sequence;
    }

    /// @inheritdoc IElections
    function lastBallotHashOf(uint256 electionId, address voter) external view returns (bytes32) {
        return _voters[electionId][voter].lastBallotHash;
    }

    /// @inheritdoc IElections
    function choicesOf(uint256 electionId, address voter) external view returns (uint256) {
        return _voters[electionId][voter].choices;
    }

    /// @inheritdoc IElections
    function liveCountsOf(uint256 electionId) external view returns (uint256[] memory counts) {
        uint8 optionCount = _elections[electionId].config.optionCount;
        uint32[32] storage live = _liveCounts[electionId];
        counts = new uint256[](optionCount);
        for (uint256 o = 0; o < optionCount; ++o) {
            counts[o] = live[o];
        }
    }

    /// @inheritdoc IElections
    function resultOf(uint256 electionId) external view returns (Result memory) {
        return _results[electionId];
    }

    /// @inheritdoc IElections
    function ballotLengthOf(uint256 electionId) external view returns (uint256) {
        Election storage election = _requireElection(electionId);
        return _ballotLength(election.config);
    }

    // -- internals --------------------------------------------------------------------------------

    /// @dev Reverts unless `config` and `trusteeCount` make a valid election now (see {create}).
    function _validate(ElectionConfig calldata config, uint256 trusteeCount) private view {
        uint8 optionCount = config.optionCount;
        if (optionCount < MIN_OPTIONS || optionCount > MAX_OPTIONS) revert ElectionsInvalidOptionCount(optionCount);
        uint8 minSelections = config.minSelections;
        uint8 maxSelections = config.maxSelections;
        if (maxSelections == 0 || minSelections > maxSelections || maxSelections > optionCount) {
            revert ElectionsInvalidSelectionBounds(minSelections, maxSelections, optionCount);
        }
        uint8 threshold = config.threshold;
        if (config.kind == ElectionKind.SecretBallot) {
            if (threshold == 0 || threshold > trusteeCount || trusteeCount > MAX_TRUSTEES) {
                revert ElectionsInvalidThreshold(threshold, trusteeCount);
            }
        } else if (threshold != 0 || trusteeCount != 0) {
            revert ElectionsInvalidThreshold(threshold, trusteeCount);
        }
        if (config.opensAt >= config.closesAt || config.closesAt <= block.timestamp) {
            revert ElectionsInvalidWindow(config.opensAt, config.closesAt);
        }
        if (config.eligibilityRoot == bytes32(0) || config.eligibleCount == 0) {
            revert ElectionsInvalidEligibility(config.eligibilityRoot, config.eligibleCount);
        }
        if (config.quorum > config.eligibleCount) revert ElectionsInvalidQuorum(config.quorum, config.eligibleCount);
    }

    /// @dev Records `voter`'s ballot (eligible, well-formed) under its next sequence number.
    function _castBallot(
        Election storage election,
        uint256 electionId,
        address voter,
        bytes calldata ballot,
        bytes32 ballotHash,
        bytes32[] calldata eligibilityProof
    ) private {
        _requireEligible(election, electionId, voter, eligibilityProof);
        uint256 expected = _ballotLength(election.config);
        if (ballot.length != expected) revert ElectionsInvalidBallotLength(ballot.length, expected);
        uint8 version = uint8(ballot[0]);
        uint8 optionCount = uint8(ballot[1]);
        if (version != BALLOT_VERSION || optionCount != election.config.optionCount) {
            revert ElectionsInvalidBallotHeader(version, optionCount);
        }
        Voter storage record = _voters[electionId][voter];
        record.lastBallotHash = ballotHash;
        uint32 sequence = _nextSequence(election, record);
        emit BallotCast(electionId, voter, sequence, ballotHash, ballot);
    }

    /// @dev Records `voter`'s vote (eligible, valid choices), moving its last selection in the counts.
    function _castVote(
        Election storage election,
        uint256 electionId,
        address voter,
        uint256 choices,
        bytes32[] calldata eligibilityProof
    ) private {
        _requireEligible(election, electionId, voter, eligibilityProof);
        ElectionConfig storage config = election.config;
        uint8 optionCount = config.optionCount;
        if (choices >> optionCount != 0) revert ElectionsInvalidChoices(choices);
        uint256 selected = _popCount(choices);
        if (selected < config.minSelections || selected > config.maxSelections) {
            revert ElectionsInvalidSelectionCount(selected, config.minSelections, config.maxSelections);
        }
        Voter storage record = _voters[electionId][voter];
        uint256 previous = record.choices;
        for (uint256 o = 0; o < optionCount; ++o) {
            bool before = (previous >> o) & 1 != 0;
            bool now_ = (choices >> o) & 1 != 0;
            if (now_ && !before) {
                _liveCounts[electionId][o] += 1;
            } else if (before && !now_) {
                _liveCounts[electionId][o] -= 1;
            }
        }
        // choices >> optionCount == 0 and optionCount <= 32, so it fits.
        record.choices = uint32(choices);
        uint32 sequence = _nextSequence(election, record);
        emit VoteCast(electionId, voter, sequence, choices);
    }

    /// @dev Moves `record` to its next sequence number, counting a first-time voter.
    function _nextSequence(Election storage election, Voter storage record) private returns (uint32 sequence) {
        sequence = record.sequence + 1;
        record.sequence = sequence;
        if (sequence == 1) ++election.voterCount;
    }

    /// @dev Reverts unless `signature` is `voter`'s of the EIP-712 struct hash `structHash`.
    function _requireSigned(address voter, bytes32 structHash, bytes calldata signature) private view {
        if (!SignatureChecker.isValidSignatureNowCalldata(voter, _hashTypedDataV4(structHash), signature)) {
            revert ElectionsInvalidSignature(voter);
        }
    }

    /// @dev Reverts unless `proof` proves `voter` in the election's eligibility tree.
    function _requireEligible(
        Election storage election,
        uint256 electionId,
        address voter,
        bytes32[] calldata proof
    ) private view {
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(voter))));
        if (!MerkleProof.verifyCalldata(proof, election.config.eligibilityRoot, leaf)) {
            revert ElectionsNotEligible(electionId, voter);
        }
    }

    /// @dev The caller and its trustee number; reverts unless it is a trustee of `electionId`.
    function _requireTrustee(uint256 electionId) private view returns (address trustee, uint8 index) {
        trustee = _msgSender();
        index = _trusteeIndex[electionId][trustee];
        if (index == 0) revert ElectionsNotTrustee(electionId, trustee);
    }

    /// @dev Marks `trustee`'s blob `flag` posted; reverts if it was, or if `data` is empty.
    function _markPosted(uint256 electionId, address trustee, uint8 flag, bytes calldata data) private {
        uint8 posted = _posted[electionId][trustee];
        if (posted & flag != 0) revert ElectionsAlreadyPosted(electionId, trustee);
        if (data.length == 0) revert ElectionsEmptyData();
        _posted[electionId][trustee] = posted | flag;
    }

    /// @dev The open election `electionId` of `kind`, inside its voting window.
    function _requireVoting(uint256 electionId, ElectionKind kind) private view returns (Election storage election) {
        election = _requireKind(electionId, kind);
        _requireIn(election, electionId, ElectionPhase.Open);
        uint64 opensAt = election.config.opensAt;
        uint64 closesAt = election.config.closesAt;
        if (block.timestamp < opensAt) revert ElectionsNotYetOpen(electionId, opensAt);
        if (block.timestamp >= closesAt) revert ElectionsVotingClosed(electionId, closesAt);
    }

    /// @dev The election `electionId`, which must be of `kind`.
    function _requireKind(uint256 electionId, ElectionKind kind) private view returns (Election storage election) {
        election = _requireElection(electionId);
        ElectionKind actual = election.config.kind;
        if (actual != kind) revert ElectionsWrongKind(electionId, actual);
    }

    /// @dev The election `electionId`, which must be in phase `required`.
    function _requirePhase(
        uint256 electionId,
        ElectionPhase required
    ) private view returns (Election storage election) {
        election = _requireElection(electionId);
        _requireIn(election, electionId, required);
    }

    /// @dev Reverts unless `election` is in phase `required`.
    function _requireIn(Election storage election, uint256 electionId, ElectionPhase required) private view {
        ElectionPhase current = election.phase;
        if (current != required) revert ElectionsWrongPhase(electionId, current, required);
    }

    /// @dev The election `electionId`, which must exist.
    function _requireElection(uint256 electionId) private view returns (Election storage election) {
        election = _elections[electionId];
        if (election.phase == ElectionPhase.None) revert ElectionsUnknownElection(electionId);
    }

    /// @dev The exact byte length of a ballot of an election with `config` (spec section 5).
    function _ballotLength(ElectionConfig storage config) private view returns (uint256) {
        uint256 branches = uint256(config.maxSelections) - config.minSelections + 1;
        return 2 + OPTION_BYTES * config.optionCount + BRANCH_BYTES * branches;
    }

    /// @dev The number of set bits of `value` (Kernighan: one step per set bit).
    function _popCount(uint256 value) private pure returns (uint256 count) {
        while (value != 0) {
            value &= value - 1;
            ++count;
        }
    }
}
