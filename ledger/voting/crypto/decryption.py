"""The tally and its threshold decryption (spec section 8).

The counted ballots' ciphertexts are summed per option into ``(A_o, B_o)``; each participating
trustee ``l`` posts ``D_lo = s_l A_o`` with a Chaum-Pedersen proof that it used the share behind
its public verification key ``S_l``; any ``k`` valid partial decryptions combine by Lagrange
interpolation "in the exponent" into ``M_o = B_o - s A_o = m_o G``, and ``m_o`` is a small
discrete logarithm. No one, trustees included, ever holds the election's secret key ``s``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from eth_utils import keccak

from ledger.voting.crypto.ballot import EncryptedBallot
from ledger.voting.crypto.context import ElectionContext
from ledger.voting.crypto.elgamal import Ciphertext, discrete_log, elgamal_sum
from ledger.voting.crypto.errors import DecryptionError, InvalidEncoding, InvalidProof
from ledger.voting.crypto.group import (
    ORDER,
    POINT_SIZE,
    SCALAR_SIZE,
    Point,
    base_mul,
    linear_combination,
)
from ledger.voting.crypto.proofs import ChaumPedersenProof, prove_equal_log, verify_equal_log

DECRYPTION_VERSION = 1
ENTRY_SIZE = POINT_SIZE + 2 * SCALAR_SIZE
"""``D_lo (33) || c (32) || u (32)``."""


def tally_ciphertexts(
    ballots: Sequence[EncryptedBallot], option_count: int
) -> tuple[Ciphertext, ...]:
    """``(A_o, B_o) = sum`` of the counted ballots' ciphertexts for option ``o``.

    With no ballots every component is the identity: an encryption of 0 under nonce 0.
    """
    for position, ballot in enumerate(ballots):
        if len(ballot.selections) != option_count:
            raise InvalidEncoding(
                f"Ballot {position} has {len(ballot.selections)} selections, but the election "
                f"has {option_count} options."
            )
    return tuple(
        elgamal_sum(ballot.selections[option] for ballot in ballots)
        for option in range(option_count)
    )


def tally_hash(tally: Iterable[Ciphertext]) -> bytes:
    """``keccak(enc(A_0) || enc(B_0) || ...)``, the ``tallyHash`` of ``publishResult``."""
    return bytes(keccak(b"".join(ciphertext.to_bytes() for ciphertext in tally)))


@dataclass(frozen=True, slots=True)
class PartialDecryption:
    """One trustee's ``postDecryption`` blob: ``D_lo`` and its proof for every option."""

    decryptions: tuple[Point, ...]
    proofs: tuple[ChaumPedersenProof, ...]

    def to_bytes(self) -> bytes:
        """``version || N || (D_lo || c || u) per option``."""
        parts = [bytes((DECRYPTION_VERSION, len(self.decryptions)))]
        for decryption, proof in zip(self.decryptions, self.proofs, strict=True):
            parts += (decryption.encoding, proof.to_bytes())
        return b"".join(parts)

    @classmethod
    def from_bytes(cls, data: bytes, option_count: int) -> PartialDecryption:
        expected = 2 + option_count * ENTRY_SIZE
        if len(data) != expected:
            raise InvalidEncoding(
                f"A decryption of {option_count} options is {expected} bytes, not {len(data)}."
            )
        if data[0] != DECRYPTION_VERSION:
            raise InvalidEncoding(
                f"The decryption has version {data[0]}; only {DECRYPTION_VERSION} exists."
            )
        if data[1] != option_count:
            raise InvalidEncoding(
                f"The decryption is of {data[1]} options, but the election has {option_count}."
            )
        decryptions: list[Point] = []
        proofs: list[ChaumPedersenProof] = []
        for option, k in enumerate(range(2, len(data), ENTRY_SIZE)):
            try:
                decryptions.append(Point.from_bytes(data[k : k + POINT_SIZE]))
                proofs.append(ChaumPedersenProof.from_bytes(data[k + POINT_SIZE : k + ENTRY_SIZE]))
            except InvalidEncoding as error:
                raise InvalidEncoding(
                    f"The decryption of option {option} is malformed: {error}"
                ) from None
        return cls(tuple(decryptions), tuple(proofs))


def partial_decrypt(
    context: ElectionContext, index: int, secret_share: int, tally: Sequence[Ciphertext]
) -> PartialDecryption:
    """Trustee ``index``'s ``D_lo = s_l A_o`` and proofs, for every option of the tally."""
    verification = base_mul(secret_share)
    decryptions = tuple(ciphertext.alpha * secret_share for ciphertext in tally)
    proofs = tuple(
        prove_equal_log(
            context, index, option, verification, ciphertext.alpha, decryption, secret_share
        )
        for option, (ciphertext, decryption) in enumerate(zip(tally, decryptions, strict=True))
    )
    return PartialDecryption(decryptions, proofs)


def verify_partial(
    context: ElectionContext,
    index: int,
    verification_key: Point,
    tally: Sequence[Ciphertext],
    partial: PartialDecryption,
) -> None:
    """Check trustee ``index``'s partial decryption against its ``S_l`` and the tally;
    :class:`InvalidProof` names the trustee and the option that fails."""
    if len(partial.decryptions) != len(tally) or len(partial.proofs) != len(tally):
        raise InvalidProof(
            f"Trustee {index}'s decryption covers {len(partial.decryptions)} options, but the "
            f"tally has {len(tally)}."
        )
    for option, (ciphertext, decryption, proof) in enumerate(
        zip(tally, partial.decryptions, partial.proofs, strict=True)
    ):
        if not verify_equal_log(
            context, index, option, verification_key, ciphertext.alpha, decryption, proof
        ):
            raise InvalidProof(f"Trustee {index}'s decryption of option {option} does not verify.")


def lagrange_coefficient(index: int, indices: Iterable[int]) -> int:
    """``lambda_l = prod_{m in Q, m != l} m / (m - l) mod n``: the weight of share ``l`` when
    the trustees ``Q = indices`` interpolate the joint polynomial at 0."""
    members = list(indices)
    if len(set(members)) != len(members) or any(m % ORDER == 0 for m in members):
        raise DecryptionError("Lagrange interpolation needs distinct, non-zero trustee indices.")
    if index not in members:
        raise DecryptionError(f"Trustee {index} is not among the trustees {sorted(members)}.")
    numerator, denominator = 1, 1
    for member in members:
        if member != index:
            numerator = numerator * member % ORDER
            denominator = denominator * (member - index) % ORDER
    return numerator * pow(denominator, -1, ORDER) % ORDER


def combine(
    tally: Sequence[Ciphertext],
    partials: Mapping[int, PartialDecryption],
    threshold: int,
    max_count: int,
) -> tuple[int, ...]:
    """The per-option counts from the partial decryptions of at least ``threshold`` trustees.

    ``partials`` must already have passed :func:`verify_partial`: an unchecked one can only
    make the result fail, or be wrong. Every given partial is used (any ``k`` give the same
    result). ``max_count`` bounds every count (the turnout). Raises :class:`DecryptionError`
    with fewer than ``threshold`` partials or when a count is not in ``[0, max_count]``.
    An election without counted ballots needs no decryption at all (its counts are zeros).
    """
    if len(partials) < threshold:
        raise DecryptionError(
            f"{len(partials)} trustees posted a valid decryption, but {threshold} are needed."
        )
    for index, partial in partials.items():
        if len(partial.decryptions) != len(tally):
            raise DecryptionError(
                f"Trustee {index}'s decryption covers {len(partial.decryptions)} options, but "
                f"the tally has {len(tally)}."
            )
    weights = {index: lagrange_coefficient(index, partials) for index in partials}
    counts = []
    for option, ciphertext in enumerate(tally):
        message = linear_combination(
            0,
            (1, ciphertext.beta),
            *(
                (ORDER - weights[index], partial.decryptions[option])
                for index, partial in partials.items()
            ),
        )
        try:
            counts.append(discrete_log(message, max_count))
        except DecryptionError as error:
            raise DecryptionError(f"Option {option} does not decrypt to a count: {error}") from None
    return tuple(counts)
