"""Secret ballots: encryption on the voter's machine, verification by anyone (spec section 5).

A ballot is one exponential-ElGamal ciphertext per option, each with a proof that it encrypts 0
or 1, and a proof that their sum encrypts a count in ``[min, max]``. Every proof is bound to the
election, the election key, the ballot's shape and the voter's address, so a ballot cannot be
copied to another voter or election. The counting rule (section 6) counts a ballot only if its
bytes parse with the election's option count and every proof verifies:
:func:`parse_and_verify` is that check.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth_utils import keccak

from ledger.voting.crypto.context import BALLOT_VERSION, BallotSpec, ElectionContext, address_bytes
from ledger.voting.crypto.elgamal import CIPHERTEXT_SIZE, Ciphertext, elgamal_encrypt, elgamal_sum
from ledger.voting.crypto.errors import (
    InvalidEncoding,
    InvalidProof,
    VotingCryptoError,
)
from ledger.voting.crypto.group import ORDER, SCALAR_SIZE, Point, random_scalar
from ledger.voting.crypto.proofs import SUM_STATEMENT, RangeProof, prove_range, verify_range

OPTION_SIZE = CIPHERTEXT_SIZE + 4 * SCALAR_SIZE
"""Bytes per option: ``alpha || beta || c_0 || c_1 || u_0 || u_1``."""


@dataclass(frozen=True, slots=True)
class EncryptedBallot:
    """One ciphertext and 0/1 proof per option, and the proof of the selection count."""

    selections: tuple[Ciphertext, ...]
    proofs: tuple[RangeProof, ...]
    sum_proof: RangeProof

    def to_bytes(self) -> bytes:
        """``version || N || per option (alpha, beta, c_0, c_1, u_0, u_1) || sum proof``."""
        parts = [bytes((BALLOT_VERSION, len(self.selections)))]
        for ciphertext, proof in zip(self.selections, self.proofs, strict=True):
            parts += (ciphertext.to_bytes(), proof.to_bytes())
        parts.append(self.sum_proof.to_bytes())
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes, spec: BallotSpec) -> EncryptedBallot:
        """Parse a ballot of ``spec``'s shape; anything else raises :class:`InvalidEncoding`."""
        if len(data) != spec.ballot_size:
            raise InvalidEncoding(
                f"A ballot of this election is {spec.ballot_size} bytes, but this one is "
                f"{len(data)} bytes."
            )
        if data[0] != BALLOT_VERSION:
            raise InvalidEncoding(
                f"The ballot has version {data[0]}; only version {BALLOT_VERSION} exists."
            )
        if data[1] != spec.option_count:
            raise InvalidEncoding(
                f"The ballot is for {data[1]} options, but the election has {spec.option_count}."
            )
        selections: list[Ciphertext] = []
        proofs: list[RangeProof] = []
        offset = 2
        for option in range(spec.option_count):
            try:
                selections.append(Ciphertext.from_bytes(data[offset : offset + CIPHERTEXT_SIZE]))
                offset += CIPHERTEXT_SIZE
                proofs.append(
                    RangeProof.from_bytes(
                        data[offset : offset + 4 * SCALAR_SIZE], 2, f"option {option}'s proof"
                    )
                )
                offset += 4 * SCALAR_SIZE
            except InvalidEncoding as error:
                raise InvalidEncoding(
                    f"Option {option} of the ballot is malformed: {error}"
                ) from None
        sum_proof = RangeProof.from_bytes(
            data[offset:], spec.sum_branches, "the proof of the selection count"
        )
        return cls(tuple(selections), tuple(proofs), sum_proof)


def encrypt_ballot(
    context: ElectionContext,
    public_key: Point,
    spec: BallotSpec,
    voter: str,
    choices: Sequence[int],
) -> EncryptedBallot:
    """Encrypt the chosen option indices and prove the ballot well-formed.

    The choices are checked first (:class:`InvalidSelection` for a duplicate, an unknown option
    or a count outside ``[min, max]``), so this never produces a ballot the counting rule would
    void. The nonces never leave this function: nothing can re-derive the plaintext from the
    ballot without the trustees.
    """
    chosen = spec.check_choices(choices)
    if public_key.is_identity:
        raise VotingCryptoError(
            "The election key is the identity point: encrypting under it would publish the vote."
        )
    voter_bytes = address_bytes(voter, "the voter")
    selections: list[Ciphertext] = []
    proofs: list[RangeProof] = []
    total_nonce = 0
    for option in range(spec.option_count):
        value = 1 if option in chosen else 0
        nonce = random_scalar()
        total_nonce += nonce
        ciphertext = elgamal_encrypt(public_key, value, nonce)
        selections.append(ciphertext)
        proofs.append(
            prove_range(
                context, public_key, voter_bytes, spec, option, 0, 1, ciphertext, value, nonce
            )
        )
    total = elgamal_sum(selections)
    sum_proof = prove_range(
        context,
        public_key,
        voter_bytes,
        spec,
        SUM_STATEMENT,
        spec.min_selections,
        spec.max_selections,
        total,
        len(chosen),
        total_nonce % ORDER,
    )
    return EncryptedBallot(tuple(selections), tuple(proofs), sum_proof)


def verify_ballot(
    context: ElectionContext,
    public_key: Point,
    spec: BallotSpec,
    voter: str,
    ballot: EncryptedBallot,
) -> None:
    """Check every proof of ``ballot`` cast by ``voter``; :class:`InvalidProof` names the first
    that fails ("option 2", "the selection count").

    Cost for ``N`` options and ``w = max - min + 1`` branches of the count proof: ``2N + w``
    fixed-base multiplications and ``3 (2N + w)`` others, a third of them by the election key
    (table-driven after ``precompute``): 1.5-2.5 ms for a 5-option single-choice ballot here.
    """
    if len(ballot.selections) != spec.option_count or len(ballot.proofs) != spec.option_count:
        raise InvalidProof(
            f"The ballot has {len(ballot.selections)} selections, but the election has "
            f"{spec.option_count} options."
        )
    voter_bytes = address_bytes(voter, "the voter")
    for option, (ciphertext, proof) in enumerate(
        zip(ballot.selections, ballot.proofs, strict=True)
    ):
        if not verify_range(
            context, public_key, voter_bytes, spec, option, 0, 1, ciphertext, proof
        ):
            raise InvalidProof(
                f"The proof that option {option} is 0 or 1 does not verify for voter {voter}."
            )
    if not verify_range(
        context,
        public_key,
        voter_bytes,
        spec,
        SUM_STATEMENT,
        spec.min_selections,
        spec.max_selections,
        elgamal_sum(ballot.selections),
        ballot.sum_proof,
    ):
        raise InvalidProof(
            f"The proof of the selection count ({spec.min_selections} to "
            f"{spec.max_selections}) does not verify for voter {voter}."
        )


def parse_and_verify(
    context: ElectionContext, public_key: Point, spec: BallotSpec, voter: str, data: bytes
) -> EncryptedBallot:
    """The counting rule's check of one cast ballot: it parses with the election's ``N`` and
    every proof verifies (:class:`InvalidEncoding` or :class:`InvalidProof` otherwise)."""
    ballot = EncryptedBallot.from_bytes(data, spec)
    verify_ballot(context, public_key, spec, voter, ballot)
    return ballot


def tracking_code(data: bytes) -> bytes:
    """``keccak(ballot bytes)``: the ``ballotHash`` the contract emits and the wallet prints."""
    return bytes(keccak(data))
