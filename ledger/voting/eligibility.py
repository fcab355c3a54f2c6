"""Who may vote: a snapshot of the registry, published as one canonical JSON file, and the
Merkle tree over it that the Elections contract checks (docs/voting-spec.md, section 7).

**The file.** One JSON object with the spec's keys in the spec's order, written compactly
(``separators=(",", ":")``, ASCII only, no spaces) and ending in one newline::

    {"version":1,"chainId":1,"registry":"0x…","snapshotBlock":1234,"kinds":["resident"],"districts":[5101],"accounts":["0x…","0x…"]}

``registry`` and ``accounts`` are checksummed addresses; ``accounts`` are sorted by their
lowercase hex and unique; ``kinds`` are account-kind labels (``resident``, ``city-service``, …)
in the registry's enum order; ``districts`` ascending (empty for a city-wide vote). These bytes
are what ``eligibilityListHash = keccak(file bytes)`` commits to, so :meth:`EligibilityList.
from_json` accepts only the canonical form (``to_json(from_json(b)) == b``): a file that was
re-indented or re-ordered no longer matches its election and is refused rather than "fixed".

**The tree.** OpenZeppelin's ``StandardMerkleTree.of(accounts, ["address"])``: leaf
``keccak(keccak(abi.encode(account)))``, leaves sorted by hash, the tree laid out as an array
(node ``i`` has children ``2i+1`` and ``2i+2``, root at 0), pairs hashed sorted; a proof is the
siblings from the leaf up. It verifies with ``MerkleProof.verify`` (see :func:`verify_proof`).

**The snapshot.** :func:`snapshot` finds every account the registry ever registered (its
``AccountRegistered`` and ``AccountRecovered`` events up to the snapshot block) and reads each
one's registration *as of that block* (``registrationOf`` at the block, batched), keeping the
active accounts of the chosen kinds and districts. Later registry changes cannot change it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address

from ledger.contracts.registry import ResidentRegistry
from ledger.exceptions import ChainError
from ledger.types import AccountKind, AccountStatus
from ledger.voting.errors import VotingError

VERSION = 1
_UINT32_MAX = 2**32 - 1
_REGISTRATION_OF = function_signature_to_4byte_selector("registrationOf(address)")


class EligibilityError(VotingError, ValueError):
    """An eligibility list or proof that is malformed, not canonical, or misused."""


# -- the Merkle tree ------------------------------------------------------------------------------


def leaf_hash(account: str) -> bytes:
    """The standard tree's leaf of an address: ``keccak(keccak(abi.encode(account)))``."""
    return bytes(keccak(keccak(encode(["address"], [to_checksum_address(account)]))))


def _hash_pair(a: bytes, b: bytes) -> bytes:
    return bytes(keccak(a + b if a < b else b + a))


class MerkleTree:
    """OpenZeppelin's StandardMerkleTree over one ``address`` per leaf."""

    def __init__(self, accounts: Iterable[str]) -> None:
        leaves = sorted(leaf_hash(a) for a in accounts)
        if not leaves:
            raise EligibilityError("a Merkle tree needs at least one account")
        for previous, current in itertools.pairwise(leaves):
            if previous == current:
                raise EligibilityError("an account appears twice in the list")
        size = 2 * len(leaves) - 1
        tree: list[bytes] = [b""] * size
        for i, leaf in enumerate(leaves):
            tree[size - 1 - i] = leaf
        for i in range(size - 1 - len(leaves), -1, -1):
            tree[i] = _hash_pair(tree[2 * i + 1], tree[2 * i + 2])
        self._tree = tree
        self._positions = {tree[size - 1 - i]: size - 1 - i for i in range(len(leaves))}

    @property
    def root(self) -> bytes:
        return self._tree[0]

    def __len__(self) -> int:
        return len(self._positions)

    def __contains__(self, account: object) -> bool:
        return isinstance(account, str) and leaf_hash(account) in self._positions

    def proof(self, account: str) -> list[bytes]:
        """The sibling hashes from ``account``'s leaf to the root."""
        index = self._positions.get(leaf_hash(account))
        if index is None:
            raise EligibilityError(f"{to_checksum_address(account)} is not in the list")
        proof = []
        while index > 0:
            sibling = index + 1 if index % 2 else index - 1
            proof.append(self._tree[sibling])
            index = (index - 1) // 2
        return proof


def merkle_root(accounts: Iterable[str]) -> bytes:
    """The root of the standard tree over ``accounts`` (each once)."""
    return MerkleTree(accounts).root


def merkle_proof(accounts: Iterable[str], account: str) -> list[bytes]:
    """``account``'s proof in the standard tree over ``accounts``."""
    return MerkleTree(accounts).proof(account)


def verify_proof(root: bytes, account: str, proof: Sequence[bytes]) -> bool:
    """What ``MerkleProof.verify(proof, root, leaf_hash(account))`` answers on chain."""
    node = leaf_hash(account)
    for sibling in proof:
        node = _hash_pair(node, bytes(sibling))
    return node == bytes(root)


# -- the list -------------------------------------------------------------------------------------


def _sorted_accounts(accounts: Iterable[str]) -> tuple[str, ...]:
    unique = {to_checksum_address(a) for a in accounts}
    return tuple(sorted(unique, key=str.lower))


@dataclass(frozen=True)
class EligibilityList:
    """Who may vote, as published (section 7 of the spec); values are normalized on creation:
    accounts checksummed, sorted by lowercase hex and unique, kinds and districts sorted."""

    chain_id: int
    registry: str
    snapshot_block: int
    kinds: tuple[AccountKind, ...]
    districts: tuple[int, ...]
    accounts: tuple[str, ...]
    _members: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        kinds = tuple(sorted(set(self.kinds)))
        if not kinds or AccountKind.NONE in kinds:
            raise EligibilityError("an eligibility list needs at least one real account kind")
        districts = tuple(sorted(set(self.districts)))
        if any(not 0 <= d <= _UINT32_MAX for d in districts):
            raise EligibilityError("districts are uint32 codes")
        if self.chain_id < 0 or self.snapshot_block < 0:
            raise EligibilityError("the chain id and the snapshot block are not negative")
        accounts = _sorted_accounts(self.accounts)
        object.__setattr__(self, "registry", to_checksum_address(self.registry))
        object.__setattr__(self, "kinds", kinds)
        object.__setattr__(self, "districts", districts)
        object.__setattr__(self, "accounts", accounts)
        object.__setattr__(self, "_members", frozenset(accounts))

    # -- the file -----------------------------------------------------------------------------
    def to_json(self) -> bytes:
        """The canonical file bytes (see the module's docstring)."""
        document = {
            "version": VERSION,
            "chainId": self.chain_id,
            "registry": self.registry,
            "snapshotBlock": self.snapshot_block,
            "kinds": [kind.label for kind in self.kinds],
            "districts": list(self.districts),
            "accounts": list(self.accounts),
        }
        return (json.dumps(document, separators=(",", ":"), ensure_ascii=True) + "\n").encode()

    @classmethod
    def from_json(cls, data: bytes) -> EligibilityList:
        """The list in a published file; EligibilityError unless the bytes are canonical."""
        try:
            document = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise EligibilityError(f"the eligibility list is not JSON: {exc}") from exc
        if not isinstance(document, dict):
            raise EligibilityError("the eligibility list is not a JSON object")
        if document.get("version") != VERSION:
            raise EligibilityError(
                f"unsupported eligibility list version {document.get('version')!r}"
            )
        try:
            listed = cls(
                chain_id=_integer(document, "chainId"),
                registry=_address(document.get("registry"), "registry"),
                snapshot_block=_integer(document, "snapshotBlock"),
                kinds=tuple(AccountKind.parse(k) for k in _strings(document, "kinds")),
                districts=tuple(_integers(document, "districts")),
                accounts=tuple(_address(a, "accounts") for a in _strings(document, "accounts")),
            )
        except ValueError as exc:
            if isinstance(exc, EligibilityError):
                raise
            raise EligibilityError(f"malformed eligibility list: {exc}") from exc
        if listed.to_json() != bytes(data):
            raise EligibilityError(
                "the eligibility list is not in canonical form (key order, spacing, address "
                "case, sorting or duplicates differ): its hash would not match its election"
            )
        return listed

    @cached_property
    def list_hash(self) -> bytes:
        """``keccak(file bytes)``: the election's ``eligibilityListHash``."""
        return bytes(keccak(self.to_json()))

    # -- the tree -----------------------------------------------------------------------------
    @cached_property
    def tree(self) -> MerkleTree:
        return MerkleTree(self.accounts)

    @property
    def root(self) -> bytes:
        """The election's ``eligibilityRoot``."""
        return self.tree.root

    def proof(self, account: str) -> list[bytes]:
        """The proof ``castBallot``/``castVote`` needs for ``account`` (EligibilityError if it
        is not in the list)."""
        return self.tree.proof(account)

    def __contains__(self, account: object) -> bool:
        if not isinstance(account, str):
            return False
        try:
            return to_checksum_address(account) in self._members
        except ValueError:
            return False

    def is_member(self, account: str) -> bool:
        return account in self

    def __len__(self) -> int:
        return len(self.accounts)


def _integer(document: dict[str, Any], key: str) -> int:
    value = document.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise EligibilityError(f"{key} must be an integer, got {value!r}")
    return value


def _integers(document: dict[str, Any], key: str) -> list[int]:
    values = document.get(key)
    if not isinstance(values, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in values
    ):
        raise EligibilityError(f"{key} must be a list of integers")
    return values


def _strings(document: dict[str, Any], key: str) -> list[str]:
    values = document.get(key)
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise EligibilityError(f"{key} must be a list of strings")
    return values


def _address(value: object, key: str) -> str:
    if not isinstance(value, str) or len(value) != 42 or not value.startswith("0x"):
        raise EligibilityError(f"{key}: {value!r} is not an address")
    try:
        return to_checksum_address(value)
    except ValueError as exc:
        raise EligibilityError(f"{key}: {value!r} is not an address") from exc


# -- the snapshot ---------------------------------------------------------------------------------


def snapshot(
    registry: ResidentRegistry,
    *,
    block: int,
    kinds: Iterable[AccountKind] = (AccountKind.RESIDENT,),
    districts: Iterable[int] = (),
    from_block: int = 0,
) -> EligibilityList:
    """The active accounts of ``kinds`` (in ``districts``, if any are given) as the registry
    held them at ``block``. ``from_block`` may skip the blocks before the registry existed."""
    head = registry.chain.block_number()
    if not 0 <= block <= head:
        raise EligibilityError(f"block {block} is not on the chain (its head is {head})")
    wanted_kinds = frozenset(kinds)
    wanted_districts = frozenset(districts)
    candidates = _registered_accounts(registry, from_block, block)
    members = [
        account
        for account, (kind, status, district) in _registrations_at(
            registry, candidates, block
        ).items()
        if status is AccountStatus.ACTIVE
        and kind in wanted_kinds
        and (not wanted_districts or district in wanted_districts)
    ]
    return EligibilityList(
        chain_id=registry.chain.chain_id,
        registry=registry.address,
        snapshot_block=block,
        kinds=tuple(wanted_kinds),
        districts=tuple(wanted_districts),
        accounts=tuple(members),
    )


def _registered_accounts(registry: ResidentRegistry, from_block: int, block: int) -> list[str]:
    """Every address that was ever given a registration up to ``block``."""
    found: set[str] = set()
    for log in registry.raw_logs(
        [registry.topic0("AccountRegistered")], from_block=from_block, to_block=block
    ):
        found.add(log["topics"][1][-40:])
    for log in registry.raw_logs(
        [registry.topic0("AccountRecovered")], from_block=from_block, to_block=block
    ):
        found.add(log["topics"][2][-40:])
    return sorted(to_checksum_address("0x" + a) for a in found)


def _registrations_at(
    registry: ResidentRegistry, accounts: Sequence[str], block: int
) -> dict[str, tuple[AccountKind, AccountStatus, int]]:
    """``registrationOf`` of each account at ``block``: (kind, status, district), batched."""
    calls = [
        (
            "eth_call",
            [
                {
                    "to": registry.address,
                    "data": "0x" + (_REGISTRATION_OF + encode(["address"], [a])).hex(),
                },
                hex(block),
            ],
        )
        for a in accounts
    ]
    found: dict[str, tuple[AccountKind, AccountStatus, int]] = {}
    answers = registry.chain.batch(calls, "registry reads")
    for account, answer in zip(accounts, answers, strict=True):
        result = answer.get("result")
        if result is None:
            raise ChainError(
                f"reading {account}'s registration at block {block} failed: {answer.get('error')}"
            )
        kind, status, district, _, _ = decode(
            ["uint8", "uint8", "uint32", "uint64", "bytes32"], bytes.fromhex(result[2:])
        )
        found[account] = (AccountKind(kind), AccountStatus(status), int(district))
    return found
