"""What every proof is bound to: the election (spec section 2) and the ballot's shape (section 5).

Hashing the chain id, the elections contract and the election id into every Fiat-Shamir
challenge means a proof made for one election is worthless in any other, on any chain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from eth_utils import is_address, is_checksum_address, to_canonical_address

from ledger.voting.crypto.errors import InvalidEncoding, InvalidSelection, SelectionCountError
from ledger.voting.crypto.group import POINT_SIZE, SCALAR_SIZE, uint256

ELECTION_TAG = b"cityledger/voting/v1/election"
MIN_OPTIONS = 2
MAX_OPTIONS = 32
"""The most options a vote has (Elections.sol keeps one live count per option: uint32[32])."""
BALLOT_VERSION = 1
OPTION_BYTES = 2 * POINT_SIZE + 4 * SCALAR_SIZE
"""One option of a ballot (section 5): its ciphertext (two points) and 0-or-1 proof."""
BRANCH_BYTES = 2 * SCALAR_SIZE
"""One branch of the selection-count proof."""


def ballot_size(option_count: int, min_selections: int, max_selections: int) -> int:
    """The exact length of an encoded ballot (section 5): version and N, the options, and one
    proof branch per allowed count, ``2 + 194 N + 64 (max - min + 1)``; the contract checks
    the same length (``Elections.ballotLengthOf``)."""
    branches = max_selections - min_selections + 1
    return 2 + option_count * OPTION_BYTES + branches * BRANCH_BYTES


MAX_BALLOT_BYTES = ballot_size(MAX_OPTIONS, 0, MAX_OPTIONS)
"""The largest ballot any vote takes (32 options, any number chosen): 8,322 bytes."""


def address_bytes(address: str, what: str = "an address") -> bytes:
    """The 20 raw bytes of a 0x address, as addresses enter hashes (spec conventions).

    A mixed-case address must carry a valid EIP-55 checksum, so a typo cannot silently bind a
    proof to the wrong voter or contract.
    """
    if not isinstance(address, str) or not is_address(address) or not address.startswith("0x"):
        raise InvalidEncoding(f"{what.capitalize()} must be a 0x-prefixed 20-byte address.")
    digits = address[2:]
    if digits != digits.lower() and digits != digits.upper() and not is_checksum_address(address):
        raise InvalidEncoding(f"{what.capitalize()} {address} has an invalid EIP-55 checksum.")
    return bytes(to_canonical_address(address))


@dataclass(frozen=True, slots=True)
class ElectionContext:
    """One election of one elections contract on one chain."""

    chain_id: int
    contract: str
    election_id: int
    digest: bytes = field(init=False, repr=False, compare=False)
    """``election_context`` of section 2, computed once: every challenge hashes it."""

    def __post_init__(self) -> None:
        if not 0 <= self.chain_id < 2**256:
            raise InvalidEncoding("The chain id must be a uint256.")
        if not 0 <= self.election_id < 2**256:
            raise InvalidEncoding("The election id must be a uint256.")
        contract = address_bytes(self.contract, "the elections contract")
        digest = hashlib.sha256(
            ELECTION_TAG + uint256(self.chain_id) + contract + uint256(self.election_id)
        ).digest()
        object.__setattr__(self, "digest", digest)


@dataclass(frozen=True, slots=True)
class BallotSpec:
    """The shape of a secret ballot: ``option_count`` options, ``min..max`` of them chosen.

    Single choice and yes/no are ``min = max = 1``; approval ``min..max``; participatory
    budgeting ``0..max``. The bounds enter every range-proof challenge (section 5).
    """

    option_count: int
    min_selections: int
    max_selections: int

    def __post_init__(self) -> None:
        if not MIN_OPTIONS <= self.option_count <= MAX_OPTIONS:
            raise InvalidSelection(
                f"An election has {MIN_OPTIONS} to {MAX_OPTIONS} options, not {self.option_count}."
            )
        if not 0 <= self.min_selections <= self.max_selections <= self.option_count:
            raise InvalidSelection(
                "The selection bounds must satisfy 0 <= min <= max <= option count, but they "
                f"are min {self.min_selections} and max {self.max_selections} for "
                f"{self.option_count} options."
            )

    def check_choices(self, choices: Sequence[int]) -> frozenset[int]:
        """The chosen options (0-based), if a ballot or poll vote may choose them: distinct,
        existing, and as many as the bounds allow. The one statement of the rule: wallets,
        the API's relay and the counting all ask it."""
        chosen = frozenset(choices)
        if len(chosen) != len(choices):
            raise InvalidSelection("The same option was chosen more than once.")
        for option in choices:
            if not 0 <= option < self.option_count:
                raise InvalidSelection(
                    f"Option {option} does not exist: the options are 0 to {self.option_count - 1}."
                )
        if not self.min_selections <= len(chosen) <= self.max_selections:
            raise SelectionCountError(
                f"{len(chosen)} options were chosen, but this election takes "
                f"{self.min_selections} to {self.max_selections}."
            )
        return chosen

    @property
    def sum_branches(self) -> int:
        """Branches of the selection-count proof: one per count in ``min..max``."""
        return self.max_selections - self.min_selections + 1

    @property
    def ballot_size(self) -> int:
        """The exact length of this election's encoded ballots (see :func:`ballot_size`)."""
        return ballot_size(self.option_count, self.min_selections, self.max_selections)
