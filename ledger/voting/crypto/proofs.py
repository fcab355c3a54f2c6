"""The zero-knowledge proofs of M-voting, all Fiat-Shamir transforms of Sigma protocols.

- :class:`SchnorrProof`: a trustee knows the discrete log of a commitment (section 3);
- :class:`RangeProof`: a ciphertext encrypts a value in ``[lo, hi]`` (section 5, disjunctive
  Chaum-Pedersen after Cramer-Damgard-Schoenmakers);
- :class:`ChaumPedersenProof`: a partial decryption uses the trustee's share (section 8).

Every challenge hashes the *whole* statement: the election context, the keys, the ciphertext and
(for ballots) the voter, the ballot's shape and which statement of the ballot this is. A challenge
that left part of the statement out would let a proof be replayed or a statement be chosen after
the proof (the "weak Fiat-Shamir" flaw of Helios). So each function takes the statement as
explicit parameters, and the call sites show exactly what is bound.

Proofs are in challenge/response form: the verifier recomputes the prover's commitments from
``(c, u)`` and checks that they hash back to the challenge. ``verify_*`` return ``bool``; the
ballot and decryption modules turn a ``False`` into an :class:`InvalidProof` naming what failed.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.voting.crypto.context import BallotSpec, ElectionContext
from ledger.voting.crypto.elgamal import Ciphertext
from ledger.voting.crypto.errors import InvalidEncoding, InvalidSelection
from ledger.voting.crypto.group import (
    ORDER,
    SCALAR_SIZE,
    G,
    Point,
    base_mul,
    hash_to_scalar,
    linear_combination,
    random_scalar,
    scalar_from_bytes,
    scalar_to_bytes,
    uint256,
)

POK_TAG = "cityledger/voting/v1/pok"
RANGE_TAG = "cityledger/voting/v1/range"
DECRYPT_TAG = "cityledger/voting/v1/decrypt"

SUM_STATEMENT = 255
"""``statement_index`` of the selection-count proof; options are ``0..N-1``."""
SHARE_KEY_COEFFICIENT = 255
"""``j`` of the proof of possession of a share-encryption key ``E_i``."""

PAIR_SIZE = 2 * SCALAR_SIZE
_MINUS_G = Point.from_bytes((-G).encoding)


def _pair_from_bytes(data: bytes, what: str) -> tuple[int, int]:
    if len(data) != PAIR_SIZE:
        raise InvalidEncoding(f"{what} is {PAIR_SIZE} bytes, but {len(data)} bytes were given.")
    return (
        scalar_from_bytes(data[:SCALAR_SIZE], f"the challenge of {what.lower()}"),
        scalar_from_bytes(data[SCALAR_SIZE:], f"the response of {what.lower()}"),
    )


# --- Schnorr proof of possession (section 3) ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class SchnorrProof:
    """``(c, u)`` proving knowledge of ``x`` with ``X = xG``; 64 bytes ``c || u``."""

    challenge: int
    response: int

    def to_bytes(self) -> bytes:
        return scalar_to_bytes(self.challenge) + scalar_to_bytes(self.response)

    @classmethod
    def from_bytes(cls, data: bytes) -> SchnorrProof:
        return cls(*_pair_from_bytes(data, "A proof of possession"))


def _pok_challenge(
    context: ElectionContext, trustee: int, coefficient: int, public: Point, commitment: Point
) -> int:
    return hash_to_scalar(
        POK_TAG,
        context.digest,
        uint256(trustee),
        uint256(coefficient),
        public.encoding,
        commitment.encoding,
    )


def prove_knowledge(
    context: ElectionContext, trustee: int, coefficient: int, public: Point, secret: int
) -> SchnorrProof:
    """Prove that trustee ``trustee`` knows ``secret`` with ``public = secret * G``.

    ``coefficient`` is ``j`` of ``K_ij`` (255 for the share-encryption key). Binding ``i`` and
    ``j`` stops a trustee from copying another's commitment (a rogue-key attack on ``K``).
    """
    nonce = random_scalar()
    challenge = _pok_challenge(context, trustee, coefficient, public, base_mul(nonce))
    return SchnorrProof(challenge, (nonce + challenge * secret) % ORDER)


def verify_knowledge(
    context: ElectionContext, trustee: int, coefficient: int, public: Point, proof: SchnorrProof
) -> bool:
    """Whether ``proof`` shows knowledge of ``log_G public`` (``c == Hq(..., X, uG - cX)``)."""
    commitment = linear_combination(proof.response, (ORDER - proof.challenge, public))
    return proof.challenge == _pok_challenge(context, trustee, coefficient, public, commitment)


# --- Chaum-Pedersen proof of a partial decryption (section 8) -----------------------------------


@dataclass(frozen=True, slots=True)
class ChaumPedersenProof:
    """``(c, u)`` proving ``log_G S == log_A D``; 64 bytes ``c || u``."""

    challenge: int
    response: int

    def to_bytes(self) -> bytes:
        return scalar_to_bytes(self.challenge) + scalar_to_bytes(self.response)

    @classmethod
    def from_bytes(cls, data: bytes) -> ChaumPedersenProof:
        return cls(*_pair_from_bytes(data, "A decryption proof"))


def _decrypt_challenge(
    context: ElectionContext,
    trustee: int,
    option: int,
    verification_key: Point,
    base: Point,
    result: Point,
    commitment_g: Point,
    commitment_base: Point,
) -> int:
    return hash_to_scalar(
        DECRYPT_TAG,
        context.digest,
        uint256(trustee),
        uint256(option),
        verification_key.encoding,
        base.encoding,
        result.encoding,
        commitment_g.encoding,
        commitment_base.encoding,
    )


def prove_equal_log(
    context: ElectionContext,
    trustee: int,
    option: int,
    verification_key: Point,
    base: Point,
    result: Point,
    secret: int,
) -> ChaumPedersenProof:
    """Prove ``result = secret * base`` for the ``secret`` behind ``verification_key``.

    In section 8: trustee ``l``'s ``D_lo = s_l A_o`` with ``S_l = s_l G``.
    """
    nonce = random_scalar()
    challenge = _decrypt_challenge(
        context, trustee, option, verification_key, base, result, base_mul(nonce), base * nonce
    )
    return ChaumPedersenProof(challenge, (nonce + challenge * secret) % ORDER)


def verify_equal_log(
    context: ElectionContext,
    trustee: int,
    option: int,
    verification_key: Point,
    base: Point,
    result: Point,
    proof: ChaumPedersenProof,
) -> bool:
    """Whether ``c == Hq(..., uG - cS, uA - cD)``."""
    minus_c = ORDER - proof.challenge
    commitment_g = linear_combination(proof.response, (minus_c, verification_key))
    commitment_base = linear_combination(0, (proof.response, base), (minus_c, result))
    return proof.challenge == _decrypt_challenge(
        context, trustee, option, verification_key, base, result, commitment_g, commitment_base
    )


# --- Range proof (section 5) --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RangeProof:
    """``(c_lo, ..., c_hi, u_lo, ..., u_hi)``: one challenge and response per value in range."""

    challenges: tuple[int, ...]
    responses: tuple[int, ...]

    def __post_init__(self) -> None:
        if len(self.challenges) != len(self.responses) or not self.challenges:
            raise InvalidEncoding(
                "A range proof has one challenge and one response for each value in its range."
            )

    def to_bytes(self) -> bytes:
        return b"".join(scalar_to_bytes(x) for x in (*self.challenges, *self.responses))

    @classmethod
    def from_bytes(cls, data: bytes, branches: int, what: str = "a range proof") -> RangeProof:
        """Decode the proof of a range of ``branches`` values (``hi - lo + 1``)."""
        if len(data) != 2 * branches * SCALAR_SIZE:
            raise InvalidEncoding(
                f"The encoding of {what} over {branches} values is "
                f"{2 * branches * SCALAR_SIZE} bytes, but {len(data)} bytes were given."
            )
        scalars = [
            scalar_from_bytes(data[k : k + SCALAR_SIZE], f"a scalar of {what}")
            for k in range(0, len(data), SCALAR_SIZE)
        ]
        return cls(tuple(scalars[:branches]), tuple(scalars[branches:]))


def _range_prefix(
    context: ElectionContext,
    public_key: Point,
    voter: bytes,
    spec: BallotSpec,
    statement_index: int,
    lo: int,
    hi: int,
    ciphertext: Ciphertext,
) -> list[bytes]:
    """The statement part of the range challenge, in the order section 5 lists it."""
    if len(voter) != 20:
        raise InvalidEncoding("The voter enters a range proof as 20 address bytes.")
    return [
        context.digest,
        public_key.encoding,
        voter,
        uint256(spec.option_count),
        uint256(spec.min_selections),
        uint256(spec.max_selections),
        uint256(statement_index),
        uint256(lo),
        uint256(hi),
        ciphertext.alpha.encoding,
        ciphertext.beta.encoding,
    ]


def prove_range(
    context: ElectionContext,
    public_key: Point,
    voter: bytes,
    spec: BallotSpec,
    statement_index: int,
    lo: int,
    hi: int,
    ciphertext: Ciphertext,
    value: int,
    nonce: int,
) -> RangeProof:
    """Prove that ``ciphertext = Enc(value; nonce)`` under ``public_key``, ``lo <= value <= hi``.

    The real branch ``value`` commits ``(wG, wK)``; every other branch ``j`` is simulated with a
    random challenge and response (``P_j = u_j G - c_j a``, ``Q_j = u_j K - c_j (b - jG)``); the
    real challenge is what is left of the hash. The verifier cannot tell which branch was real.
    """
    if not lo <= value <= hi:
        raise InvalidSelection(
            f"Cannot prove that a ciphertext of {value} holds a value in [{lo}, {hi}]."
        )
    alpha, beta = ciphertext.alpha, ciphertext.beta
    challenges: list[int] = []
    responses: list[int] = []
    commitments: list[bytes] = []
    real_nonce = random_scalar()
    for j in range(lo, hi + 1):
        if j == value:
            challenges.append(0)
            responses.append(0)
            p_j = base_mul(real_nonce)
            q_j = public_key * real_nonce
        else:
            c_j, u_j = random_scalar(), random_scalar()
            challenges.append(c_j)
            responses.append(u_j)
            p_j = linear_combination(u_j, (ORDER - c_j, alpha))
            # Q_j = u_j K - c_j (b - jG) = u_j K - c_j b + (j c_j) G
            q_j = linear_combination(j * c_j, (u_j, public_key), (ORDER - c_j, beta))
        commitments += (p_j.encoding, q_j.encoding)
    prefix = _range_prefix(context, public_key, voter, spec, statement_index, lo, hi, ciphertext)
    challenge = hash_to_scalar(RANGE_TAG, *prefix, *commitments)
    real = value - lo
    c_real = (challenge - sum(challenges)) % ORDER
    challenges[real] = c_real
    responses[real] = (real_nonce + c_real * nonce) % ORDER
    return RangeProof(tuple(challenges), tuple(responses))


def verify_range(
    context: ElectionContext,
    public_key: Point,
    voter: bytes,
    spec: BallotSpec,
    statement_index: int,
    lo: int,
    hi: int,
    ciphertext: Ciphertext,
    proof: RangeProof,
) -> bool:
    """Whether ``proof`` shows that ``ciphertext`` encrypts a value in ``[lo, hi]``.

    Per branch: ``P_j = u_j G - c_j a`` (one fixed-base and one variable multiplication) and
    ``Q_j = u_j K - c_j b_j`` with ``b_j = b - jG`` stepped by one addition per branch, not a
    multiplication (two variable multiplications, ``u_j K`` from a table once the key is
    :func:`~ledger.voting.crypto.group.precompute`-d); then one hash. A ``[0, 1]`` proof costs
    2 fixed-base and 6 variable multiplications, 2 of them by the key.
    """
    if len(proof.challenges) != hi - lo + 1:
        return False
    alpha = ciphertext.alpha
    shifted = ciphertext.beta - base_mul(lo) if lo else ciphertext.beta  # b_lo = b - lo G
    commitments: list[bytes] = []
    for branch, (c_j, u_j) in enumerate(zip(proof.challenges, proof.responses, strict=True)):
        if branch:
            shifted = shifted + _MINUS_G  # b_j = b_(j-1) - G: an addition, not a multiplication
        minus_c = ORDER - c_j
        commitments.append(linear_combination(u_j, (minus_c, alpha)).encoding)
        commitments.append(linear_combination(0, (u_j, public_key), (minus_c, shifted)).encoding)
    prefix = _range_prefix(context, public_key, voter, spec, statement_index, lo, hi, ciphertext)
    return hash_to_scalar(RANGE_TAG, *prefix, *commitments) == sum(proof.challenges) % ORDER
