"""Elections: the bulletin board of the city's votes (docs/voting-spec.md, sections 3 to 9).

The wrapper only talks to the contract: it creates and runs elections, casts ballots and votes
(directly or relayed with the voter's EIP-712 signature), and reads the board back. Ballot and
trustee blobs are opaque bytes here; ``ledger.voting`` makes and checks them.

The event readers (:meth:`Elections.ballots`, :meth:`Elections.votes` and the trustee posts) read
raw ``eth_getLogs`` answers from the election's creation block and cut each log's data themselves,
so tens of thousands of ballots read in seconds rather than minutes through web3's decoder.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from eth_abi import decode, encode
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3.logs import DISCARD
from web3.types import EventData, TxReceipt

from ledger.contracts.base import ContractWrapper
from ledger.exceptions import ChainError, InputError, LedgerError
from ledger.voting.crypto.context import MAX_OPTIONS, ballot_size

DOMAIN_NAME = "CityLedger Elections"
DOMAIN_VERSION = "1"
BALLOT_TYPES = {
    "Ballot": [
        {"name": "voter", "type": "address"},
        {"name": "electionId", "type": "uint256"},
        {"name": "ballotHash", "type": "bytes32"},
        {"name": "sequence", "type": "uint32"},
        {"name": "deadline", "type": "uint256"},
    ]
}
"""EIP-712 type a voter signs to have a secret ballot relayed (``castBallotFor``)."""
VOTE_TYPES = {
    "Vote": [
        {"name": "voter", "type": "address"},
        {"name": "electionId", "type": "uint256"},
        {"name": "choices", "type": "uint256"},
        {"name": "sequence", "type": "uint32"},
        {"name": "deadline", "type": "uint256"},
    ]
}
"""EIP-712 type a voter signs to have a public-poll vote relayed (``castVoteFor``)."""

_TRUSTEE_GAS = 60_000
"""Gas per trustee registered by ``create``, for ceremonies beyond the free-gas call limit."""
_CREATE_GAS = 400_000


class ElectionNotFoundError(LedgerError, LookupError):
    """No election has that id on this contract."""


class ElectionKind(IntEnum):
    """Mirrors ``IElections.ElectionKind``."""

    PUBLIC_POLL = 0
    SECRET_BALLOT = 1


class ElectionPhase(IntEnum):
    """Mirrors ``IElections.ElectionPhase``."""

    NONE = 0
    SETUP = 1
    OPEN = 2
    CLOSED = 3
    TALLIED = 4


def ballot_hash(ballot: bytes) -> bytes:
    """A ballot's tracking code: ``keccak256(ballot)``, the ``ballotHash`` of its event."""
    return bytes(keccak(ballot))


def choices_mask(options: Iterable[int]) -> int:
    """The bitmask a public-poll vote for ``options`` (0-based option numbers) is cast as."""
    mask = 0
    for option in options:
        if not 0 <= option < MAX_OPTIONS:
            raise InputError(f"option {option} does not exist: options are 0 to {MAX_OPTIONS - 1}")
        mask |= 1 << option
    return mask


def selected_options(choices: int) -> tuple[int, ...]:
    """The option numbers a choice bitmask selects, ascending."""
    return tuple(o for o in range(choices.bit_length()) if choices >> o & 1)


def vote_evidence_id(elections: str, election_id: int) -> bytes:
    """The RewardsPool evidence id of a vote's participation reward (spec section 10):
    ``keccak256(abi.encode("vote", elections_contract, election_id))``."""
    return bytes(
        keccak(
            encode(
                ["string", "address", "uint256"],
                ["vote", to_checksum_address(elections), election_id],
            )
        )
    )


def _domain(elections: str, chain_id: int) -> dict[str, Any]:
    return {
        "name": DOMAIN_NAME,
        "version": DOMAIN_VERSION,
        "chainId": chain_id,
        "verifyingContract": to_checksum_address(elections),
    }


def ballot_typed_data(
    elections: str,
    chain_id: int,
    voter: str,
    election_id: int,
    ballot_hash: bytes,
    sequence: int,
    deadline: int,
) -> dict[str, Any]:
    """The EIP-712 message a voter signs to let anyone relay its ballot (``castBallotFor``)."""
    return {
        "domain": _domain(elections, chain_id),
        "types": BALLOT_TYPES,
        "primaryType": "Ballot",
        "message": {
            "voter": to_checksum_address(voter),
            "electionId": election_id,
            "ballotHash": ballot_hash,
            "sequence": sequence,
            "deadline": deadline,
        },
    }


def vote_typed_data(
    elections: str,
    chain_id: int,
    voter: str,
    election_id: int,
    choices: int,
    sequence: int,
    deadline: int,
) -> dict[str, Any]:
    """The EIP-712 message a voter signs to let anyone relay its poll vote (``castVoteFor``)."""
    return {
        "domain": _domain(elections, chain_id),
        "types": VOTE_TYPES,
        "primaryType": "Vote",
        "message": {
            "voter": to_checksum_address(voter),
            "electionId": election_id,
            "choices": choices,
            "sequence": sequence,
            "deadline": deadline,
        },
    }


@dataclass(frozen=True, slots=True)
class ElectionConfig:
    """``IElections.ElectionConfig``: what an election is, fixed at creation."""

    kind: ElectionKind
    option_count: int
    min_selections: int
    max_selections: int
    threshold: int
    """Trustees needed to decrypt (k of n); 0 for a public poll."""
    opens_at: int
    """First second ballots are accepted (unix time)."""
    closes_at: int
    """First second they are not any more."""
    quorum: int
    eligible_count: int
    eligibility_root: bytes
    eligibility_list_hash: bytes
    manifest_hash: bytes
    reward_amount: int
    """Participation reward per counted voter, in tokens (0: none)."""

    def as_tuple(self) -> tuple[Any, ...]:
        """The struct as web3.py passes it."""
        return (
            int(self.kind),
            self.option_count,
            self.min_selections,
            self.max_selections,
            self.threshold,
            self.opens_at,
            self.closes_at,
            self.quorum,
            self.eligible_count,
            self.eligibility_root,
            self.eligibility_list_hash,
            self.manifest_hash,
            self.reward_amount,
        )

    @classmethod
    def from_tuple(cls, value: Sequence[Any] | Mapping[str, Any]) -> ElectionConfig:
        """From the struct as web3.py returns it (a tuple from a call, a mapping from an event)."""
        fields = tuple(value.values()) if isinstance(value, Mapping) else tuple(value)
        kind, options, low, high, threshold, opens, closes, quorum, eligible = fields[:9]
        root, listed, manifest, reward = fields[9:]
        return cls(
            ElectionKind(kind),
            int(options),
            int(low),
            int(high),
            int(threshold),
            int(opens),
            int(closes),
            int(quorum),
            int(eligible),
            bytes(root),
            bytes(listed),
            bytes(manifest),
            int(reward),
        )

    @property
    def ballot_length(self) -> int:
        return ballot_size(self.option_count, self.min_selections, self.max_selections)


@dataclass(frozen=True, slots=True)
class ElectionState:
    """``IElections.ElectionState``: an election and where it stands."""

    id: int
    config: ElectionConfig
    phase: ElectionPhase
    public_key: bytes | None
    """The election key (33 bytes, compressed), None until set."""
    trustees: tuple[str, ...]
    """Trustee ``i`` (1-based) is ``trustees[i - 1]``."""
    voter_count: int
    commitment_count: int
    share_count: int
    decryption_count: int
    created_block: int

    def trustee_index(self, account: str) -> int | None:
        """The 1-based trustee number of ``account``, or None if it is no trustee."""
        address = to_checksum_address(account)
        return self.trustees.index(address) + 1 if address in self.trustees else None


@dataclass(frozen=True, slots=True)
class BallotCast:
    """A ``BallotCast`` event: one ballot on the bulletin board."""

    election_id: int
    voter: str
    sequence: int
    ballot_hash: bytes
    ballot: bytes
    block_number: int
    block_timestamp: int
    tx_hash: str
    log_index: int


@dataclass(frozen=True, slots=True)
class VoteCast:
    """A ``VoteCast`` event: one public-poll vote (a bitmask of options)."""

    election_id: int
    voter: str
    sequence: int
    choices: int
    block_number: int
    block_timestamp: int
    tx_hash: str
    log_index: int

    @property
    def options(self) -> tuple[int, ...]:
        return selected_options(self.choices)


@dataclass(frozen=True, slots=True)
class TrusteePost:
    """A trustee's commitments, shares or partial decryption (``TrusteeCommitted``,
    ``TrusteeSharesPosted``, ``DecryptionPosted``)."""

    election_id: int
    index: int
    trustee: str
    data: bytes
    block_number: int
    tx_hash: str


@dataclass(frozen=True, slots=True)
class PostedResult:
    """``IElections.Result``: a published result."""

    election_id: int
    counts: tuple[int, ...]
    turnout: int
    quorum_met: bool
    tally_hash: bytes
    published_at: int


class Elections(ContractWrapper):
    ARTIFACT = "Elections"

    # -- setup -------------------------------------------------------------------------------
    def create(
        self, admin: LocalAccount, config: ElectionConfig, trustees: Sequence[str] = ()
    ) -> int:
        """Create an election (ELECTION_ADMIN); returns its id."""
        addresses = [to_checksum_address(t) for t in trustees]
        gas = _CREATE_GAS + _TRUSTEE_GAS * len(addresses) if len(addresses) > 8 else None
        receipt = self._send(admin, "create", config.as_tuple(), addresses, gas=gas)
        (event,) = self._decoded(receipt, "ElectionCreated")
        return int(event["args"]["electionId"])

    def post_commitments(self, trustee: LocalAccount, election_id: int, data: bytes) -> TxReceipt:
        return self._send(trustee, "postCommitments", election_id, data)

    def post_shares(self, trustee: LocalAccount, election_id: int, data: bytes) -> TxReceipt:
        return self._send(trustee, "postShares", election_id, data)

    def set_election_key(
        self, admin: LocalAccount, election_id: int, public_key: bytes
    ) -> TxReceipt:
        return self._send(admin, "setElectionKey", election_id, public_key)

    def open(self, admin: LocalAccount, election_id: int) -> TxReceipt:
        return self._send(admin, "open", election_id)

    def close(self, signer: LocalAccount, election_id: int) -> TxReceipt:
        """Close an election whose window has ended (anyone may)."""
        return self._send(signer, "close", election_id)

    def post_decryption(self, trustee: LocalAccount, election_id: int, data: bytes) -> TxReceipt:
        return self._send(trustee, "postDecryption", election_id, data)

    def publish_result(
        self,
        admin: LocalAccount,
        election_id: int,
        counts: Sequence[int],
        turnout: int,
        tally_hash: bytes = bytes(32),
    ) -> TxReceipt:
        return self._send(admin, "publishResult", election_id, list(counts), turnout, tally_hash)

    # -- casting -----------------------------------------------------------------------------
    def cast_ballot(
        self, voter: LocalAccount, election_id: int, ballot: bytes, proof: Sequence[bytes]
    ) -> TxReceipt:
        return self._send(voter, "castBallot", election_id, ballot, list(proof))

    def sign_ballot(
        self,
        voter: LocalAccount,
        election_id: int,
        ballot: bytes,
        deadline: int,
        sequence: int | None = None,
    ) -> bytes:
        """The voter's EIP-712 authorization for anyone to relay ``ballot``, for its next
        sequence number unless ``sequence`` is given."""
        if sequence is None:
            sequence = self.sequence_of(election_id, voter.address) + 1
        typed = ballot_typed_data(
            self.address,
            self.chain.chain_id,
            voter.address,
            election_id,
            ballot_hash(ballot),
            sequence,
            deadline,
        )
        return _sign(voter, typed)

    def cast_ballot_for(
        self,
        relayer: LocalAccount,
        voter: str,
        election_id: int,
        ballot: bytes,
        proof: Sequence[bytes],
        deadline: int,
        signature: bytes,
    ) -> TxReceipt:
        """Relay the ballot ``voter`` signed with :meth:`sign_ballot`."""
        return self._send(
            relayer,
            "castBallotFor",
            to_checksum_address(voter),
            election_id,
            ballot,
            list(proof),
            deadline,
            signature,
        )

    def cast_vote(
        self, voter: LocalAccount, election_id: int, choices: int, proof: Sequence[bytes]
    ) -> TxReceipt:
        """Vote in a public poll: ``choices`` is a bitmask (see :func:`choices_mask`)."""
        return self._send(voter, "castVote", election_id, choices, list(proof))

    def sign_vote(
        self,
        voter: LocalAccount,
        election_id: int,
        choices: int,
        deadline: int,
        sequence: int | None = None,
    ) -> bytes:
        """The voter's EIP-712 authorization for anyone to relay its poll vote."""
        if sequence is None:
            sequence = self.sequence_of(election_id, voter.address) + 1
        typed = vote_typed_data(
            self.address,
            self.chain.chain_id,
            voter.address,
            election_id,
            choices,
            sequence,
            deadline,
        )
        return _sign(voter, typed)

    def cast_vote_for(
        self,
        relayer: LocalAccount,
        voter: str,
        election_id: int,
        choices: int,
        proof: Sequence[bytes],
        deadline: int,
        signature: bytes,
    ) -> TxReceipt:
        """Relay the poll vote ``voter`` signed with :meth:`sign_vote`."""
        return self._send(
            relayer,
            "castVoteFor",
            to_checksum_address(voter),
            election_id,
            choices,
            list(proof),
            deadline,
            signature,
        )

    # -- reads -------------------------------------------------------------------------------
    def election(self, election_id: int) -> ElectionState:
        """The election ``election_id`` (ElectionNotFoundError if it was never created)."""
        config, phase, key, trustees, voters, commits, shares, decrypts, created = self._read(
            "electionOf", election_id
        )
        if ElectionPhase(phase) is ElectionPhase.NONE:
            raise ElectionNotFoundError(
                f"there is no election {election_id} (elections are 1 to {self.election_count()})"
            )
        return ElectionState(
            election_id,
            ElectionConfig.from_tuple(config),
            ElectionPhase(phase),
            bytes(key) or None,
            tuple(to_checksum_address(t) for t in trustees),
            int(voters),
            int(commits),
            int(shares),
            int(decrypts),
            int(created),
        )

    def election_count(self) -> int:
        return int(self._read("electionCount"))

    def trustee_index_of(self, election_id: int, account: str) -> int | None:
        index = int(self._read("trusteeIndexOf", election_id, to_checksum_address(account)))
        return index or None

    def posts_of(self, election_id: int, trustee: str) -> tuple[bool, bool, bool]:
        """(committed, shares posted, decryption posted) of ``trustee``."""
        committed, shares, decrypted = self._read(
            "postsOf", election_id, to_checksum_address(trustee)
        )
        return bool(committed), bool(shares), bool(decrypted)

    def sequence_of(self, election_id: int, voter: str) -> int:
        """How many ballots or votes ``voter`` cast (its last sequence number; 0: none)."""
        return int(self._read("sequenceOf", election_id, to_checksum_address(voter)))

    def last_ballot_hash_of(self, election_id: int, voter: str) -> bytes | None:
        """The tracking code of ``voter``'s last ballot, or None if it cast none."""
        value = bytes(self._read("lastBallotHashOf", election_id, to_checksum_address(voter)))
        return None if value == bytes(32) else value

    def choices_of(self, election_id: int, voter: str) -> int:
        """The bitmask of ``voter``'s last vote in a public poll (0: none, or an empty vote)."""
        return int(self._read("choicesOf", election_id, to_checksum_address(voter)))

    def live_counts(self, election_id: int) -> tuple[int, ...]:
        """A public poll's counts now, one per option."""
        return tuple(int(c) for c in self._read("liveCountsOf", election_id))

    def result(self, election_id: int) -> PostedResult | None:
        """The published result, or None before it is published."""
        counts, turnout, quorum_met, tally_hash, published_at = self._read("resultOf", election_id)
        if not published_at:
            return None
        return PostedResult(
            election_id,
            tuple(int(c) for c in counts),
            int(turnout),
            bool(quorum_met),
            bytes(tally_hash),
            int(published_at),
        )

    def ballot_length_of(self, election_id: int) -> int:
        return int(self._read("ballotLengthOf", election_id))

    # -- the bulletin board ------------------------------------------------------------------
    def ballots(
        self,
        election_id: int,
        *,
        voter: str | None = None,
        from_block: int | None = None,
        to_block: int | None = None,
    ) -> list[BallotCast]:
        """Every ``BallotCast`` of the election (of ``voter`` only, if given), in chain order."""
        logs = self._logs("BallotCast", election_id, voter, from_block, to_block)
        stamps = self._timestamps(logs)
        found = []
        for log in logs:
            topics = log["topics"]
            sequence, ballot = _sequence_and_bytes(log["data"])
            number = int(log["blockNumber"], 16)
            found.append(
                BallotCast(
                    election_id,
                    to_checksum_address("0x" + topics[2][-40:]),
                    sequence,
                    bytes.fromhex(topics[3][2:]),
                    ballot,
                    number,
                    stamps[number],
                    log["transactionHash"],
                    int(log["logIndex"], 16),
                )
            )
        return found

    def votes(
        self,
        election_id: int,
        *,
        voter: str | None = None,
        from_block: int | None = None,
        to_block: int | None = None,
    ) -> list[VoteCast]:
        """Every ``VoteCast`` of the public poll (of ``voter`` only, if given), in chain order."""
        logs = self._logs("VoteCast", election_id, voter, from_block, to_block)
        stamps = self._timestamps(logs)
        found = []
        for log in logs:
            body = log["data"][2:]
            number = int(log["blockNumber"], 16)
            found.append(
                VoteCast(
                    election_id,
                    to_checksum_address("0x" + log["topics"][2][-40:]),
                    int(body[0:64], 16),
                    int(body[64:128], 16),
                    number,
                    stamps[number],
                    log["transactionHash"],
                    int(log["logIndex"], 16),
                )
            )
        return found

    def commitments(self, election_id: int) -> list[TrusteePost]:
        """The trustees' commitment posts (``TrusteeCommitted``), in chain order."""
        return self._trustee_posts("TrusteeCommitted", election_id)

    def shares(self, election_id: int) -> list[TrusteePost]:
        """The trustees' share posts (``TrusteeSharesPosted``), in chain order."""
        return self._trustee_posts("TrusteeSharesPosted", election_id)

    def decryptions(self, election_id: int) -> list[TrusteePost]:
        """The trustees' partial decryptions (``DecryptionPosted``), in chain order."""
        return self._trustee_posts("DecryptionPosted", election_id)

    def _trustee_posts(self, event: str, election_id: int) -> list[TrusteePost]:
        found = []
        for log in self._logs(event, election_id, None, None, None):
            index, data = _sequence_and_bytes(log["data"])
            found.append(
                TrusteePost(
                    election_id,
                    index,
                    to_checksum_address("0x" + log["topics"][2][-40:]),
                    data,
                    int(log["blockNumber"], 16),
                    log["transactionHash"],
                )
            )
        return found

    def _logs(
        self,
        event: str,
        election_id: int,
        account: str | None,
        from_block: int | None,
        to_block: int | None,
    ) -> list[dict[str, Any]]:
        if from_block is None:
            try:
                from_block = self.election(election_id).created_block
            except ElectionNotFoundError:
                return []
        topics: list[str | None] = [self.topic0(event), _word(election_id)]
        if account is not None:
            topics.append("0x" + bytes(12).hex() + to_checksum_address(account)[2:].lower())
        return self.raw_logs(topics, from_block=from_block, to_block=to_block)

    def _timestamps(self, logs: list[dict[str, Any]]) -> dict[int, int]:
        """Block number -> timestamp, from the logs where the node sends ``blockTimestamp``
        (the embedded node, recent geth and anvil), else from the blocks, batched."""
        stamps: dict[int, int] = {}
        missing: set[int] = set()
        for log in logs:
            number = int(log["blockNumber"], 16)
            stamp = log.get("blockTimestamp")
            if stamp is not None:
                stamps[number] = int(stamp, 16)
            elif number not in stamps:
                missing.add(number)
        missing -= stamps.keys()
        if missing:
            stamps.update(self.block_timestamps(missing))
        return stamps

    def _decoded(self, receipt: TxReceipt, name: str) -> list[EventData]:
        events = getattr(self.contract.events, name)().process_receipt(receipt, errors=DISCARD)
        found = [e for e in events if e["address"] == self.address]
        if not found:
            raise ChainError(
                f"no {name} event from the Elections contract in transaction "
                f"{receipt['transactionHash'].to_0x_hex()}"
            )
        return found


def _word(value: int) -> str:
    return "0x" + value.to_bytes(32, "big").hex()


def _sequence_and_bytes(data: str) -> tuple[int, bytes]:
    """Cut ``abi.encode(uintN first, bytes rest)`` (the data of BallotCast and the trustee
    events) without a general decoder; anything laid out otherwise goes through eth_abi."""
    body = data[2:]
    if len(body) >= 192 and int(body[64:128], 16) == 0x40:
        length = int(body[128:192], 16)
        if len(body) >= 192 + 2 * length:
            return int(body[0:64], 16), bytes.fromhex(body[192 : 192 + 2 * length])
    first, rest = decode(["uint256", "bytes"], bytes.fromhex(body))
    return int(first), bytes(rest)


def _sign(voter: LocalAccount, typed: dict[str, Any]) -> bytes:
    signed = Account.sign_typed_data(
        voter.key,
        domain_data=typed["domain"],
        message_types=typed["types"],
        message_data=typed["message"],
    )
    return bytes(signed.signature)
