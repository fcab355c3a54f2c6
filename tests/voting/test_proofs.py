"""The zero-knowledge proofs (ledger.voting.crypto.proofs): spec sections 3, 5 and 8.

Honest proofs verify; changing anything the challenge binds (the election context, a key, the
ciphertext, the voter, the ballot's shape, the statement index, the range) or any challenge or
response makes them fail; provers that lie about the plaintext, or simulate every branch, are
caught; encodings round-trip and refuse garbage.
"""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.voting.crypto import (
    ORDER,
    BallotSpec,
    ChaumPedersenProof,
    Ciphertext,
    G,
    InvalidEncoding,
    InvalidSelection,
    Point,
    RangeProof,
    SchnorrProof,
    base_mul,
    elgamal_encrypt,
    prove_equal_log,
    prove_knowledge,
    prove_range,
    random_scalar,
    verify_equal_log,
    verify_knowledge,
    verify_range,
)
from ledger.voting.crypto.context import address_bytes
from ledger.voting.crypto.proofs import SUM_STATEMENT
from tests.voting import CONTEXT, CRYPTO, OTHER_CONTEXTS, OTHER_VOTER, VOTER, nonzero_scalars

VOTER_BYTES = address_bytes(VOTER)
SPEC = BallotSpec(5, 0, 5)


def _tampered(values: tuple[int, ...], position: int) -> tuple[int, ...]:
    changed = list(values)
    changed[position] = (changed[position] + 1) % ORDER
    return tuple(changed)


# --- Schnorr proof of possession ----------------------------------------------------------------


@CRYPTO
@given(nonzero_scalars, st.integers(1, 254), st.sampled_from([0, 1, 2, 255]))
def test_schnorr_proofs(secret: int, trustee: int, coefficient: int) -> None:
    public = base_mul(secret)
    proof = prove_knowledge(CONTEXT, trustee, coefficient, public, secret)
    assert verify_knowledge(CONTEXT, trustee, coefficient, public, proof)
    assert SchnorrProof.from_bytes(proof.to_bytes()) == proof
    assert len(proof.to_bytes()) == 64
    # the statement: another trustee, coefficient, key or election
    assert not verify_knowledge(CONTEXT, trustee % 254 + 1, coefficient, public, proof)
    assert not verify_knowledge(CONTEXT, trustee, (coefficient + 1) % 256, public, proof)
    assert not verify_knowledge(CONTEXT, trustee, coefficient, public + G, proof)
    for other in OTHER_CONTEXTS:
        assert not verify_knowledge(other, trustee, coefficient, public, proof)
    # the proof itself
    bumped_c = SchnorrProof((proof.challenge + 1) % ORDER, proof.response)
    bumped_u = SchnorrProof(proof.challenge, (proof.response + 1) % ORDER)
    assert not verify_knowledge(CONTEXT, trustee, coefficient, public, bumped_c)
    assert not verify_knowledge(CONTEXT, trustee, coefficient, public, bumped_u)


def test_schnorr_proof_without_the_secret_fails() -> None:
    public = base_mul(random_scalar())
    assert not verify_knowledge(
        CONTEXT, 1, 0, public, prove_knowledge(CONTEXT, 1, 0, public, random_scalar())
    )


@pytest.mark.parametrize("size", [0, 63, 65])
def test_schnorr_proofs_of_the_wrong_length_are_refused(size: int) -> None:
    with pytest.raises(InvalidEncoding, match="64 bytes"):
        SchnorrProof.from_bytes(bytes(size))


def test_schnorr_proofs_with_non_canonical_scalars_are_refused() -> None:
    with pytest.raises(InvalidEncoding, match="group order"):
        SchnorrProof.from_bytes(ORDER.to_bytes(32, "big") + bytes(32))
    with pytest.raises(InvalidEncoding, match="response"):
        SchnorrProof.from_bytes(bytes(32) + (2**256 - 1).to_bytes(32, "big"))


# --- Chaum-Pedersen proof of a partial decryption -----------------------------------------------


@CRYPTO
@given(nonzero_scalars, nonzero_scalars, st.integers(1, 254), st.integers(0, 31))
def test_chaum_pedersen_proofs(secret: int, base_log: int, trustee: int, option: int) -> None:
    key = base_mul(secret)
    base = base_mul(base_log)
    result = base * secret
    proof = prove_equal_log(CONTEXT, trustee, option, key, base, result, secret)
    assert verify_equal_log(CONTEXT, trustee, option, key, base, result, proof)
    assert ChaumPedersenProof.from_bytes(proof.to_bytes()) == proof
    assert not verify_equal_log(CONTEXT, trustee, option, key, base, result + G, proof)
    assert not verify_equal_log(CONTEXT, trustee, option, key + G, base, result, proof)
    assert not verify_equal_log(CONTEXT, trustee, option, key, base + G, result, proof)
    assert not verify_equal_log(CONTEXT, trustee % 254 + 1, option, key, base, result, proof)
    assert not verify_equal_log(CONTEXT, trustee, option + 1, key, base, result, proof)
    for other in OTHER_CONTEXTS:
        assert not verify_equal_log(other, trustee, option, key, base, result, proof)
    for tampered in (
        ChaumPedersenProof((proof.challenge + 1) % ORDER, proof.response),
        ChaumPedersenProof(proof.challenge, (proof.response + 1) % ORDER),
    ):
        assert not verify_equal_log(CONTEXT, trustee, option, key, base, result, tampered)


def test_chaum_pedersen_proof_of_a_wrong_decryption_fails() -> None:
    secret = random_scalar()
    key, base = base_mul(secret), base_mul(random_scalar())
    wrong = base * (secret + 1)
    proof = prove_equal_log(CONTEXT, 1, 0, key, base, wrong, secret)
    assert not verify_equal_log(CONTEXT, 1, 0, key, base, wrong, proof)
    proof = prove_equal_log(CONTEXT, 1, 0, key, base, wrong, secret + 1)
    assert not verify_equal_log(CONTEXT, 1, 0, key, base, wrong, proof)


def test_chaum_pedersen_on_the_identity_base() -> None:
    """An empty tally's ``A_o`` is the identity; its partial decryption is too, and proves."""
    from ledger.voting.crypto import IDENTITY

    secret = random_scalar()
    key = base_mul(secret)
    proof = prove_equal_log(CONTEXT, 3, 0, key, IDENTITY, IDENTITY, secret)
    assert verify_equal_log(CONTEXT, 3, 0, key, IDENTITY, IDENTITY, proof)
    assert not verify_equal_log(CONTEXT, 3, 0, key, IDENTITY, G, proof)


# --- Range proofs -------------------------------------------------------------------------------

ranges = st.integers(0, 4).flatmap(
    lambda lo: st.integers(lo, lo + 3).flatmap(
        lambda hi: st.tuples(st.just(lo), st.just(hi), st.integers(lo, hi))
    )
)


@CRYPTO
@given(nonzero_scalars, ranges, st.sampled_from([0, 3, SUM_STATEMENT]))
def test_honest_range_proofs_verify(
    secret: int, bounds: tuple[int, int, int], statement: int
) -> None:
    lo, hi, value = bounds
    key = base_mul(secret)
    nonce = random_scalar()
    ciphertext = elgamal_encrypt(key, value, nonce)
    proof = prove_range(
        CONTEXT, key, VOTER_BYTES, SPEC, statement, lo, hi, ciphertext, value, nonce
    )
    assert len(proof.challenges) == len(proof.responses) == hi - lo + 1

    def verifies(**changes: object) -> bool:
        arguments: dict[str, object] = {
            "context": CONTEXT,
            "public_key": key,
            "voter": VOTER_BYTES,
            "spec": SPEC,
            "statement_index": statement,
            "lo": lo,
            "hi": hi,
            "ciphertext": ciphertext,
            "proof": proof,
        }
        arguments.update(changes)
        return verify_range(**arguments)  # type: ignore[arg-type]

    assert verifies()
    assert RangeProof.from_bytes(proof.to_bytes(), hi - lo + 1) == proof
    # every part of the statement is bound
    assert not verifies(ciphertext=Ciphertext(ciphertext.alpha, ciphertext.beta + G))
    assert not verifies(ciphertext=Ciphertext(ciphertext.alpha + G, ciphertext.beta))
    assert not verifies(public_key=key + G)
    assert not verifies(voter=address_bytes(OTHER_VOTER))
    assert not verifies(spec=BallotSpec(5, 1, 5))
    assert not verifies(spec=BallotSpec(6, 0, 5))
    assert not verifies(statement_index=statement + 1)
    assert not verifies(lo=lo + 1, hi=hi + 1)
    assert not verifies(hi=hi + 1)
    for other in OTHER_CONTEXTS:
        assert not verifies(context=other)
    # and every challenge and response
    for position in range(hi - lo + 1):
        assert not verifies(
            proof=RangeProof(_tampered(proof.challenges, position), proof.responses)
        )
        assert not verifies(
            proof=RangeProof(proof.challenges, _tampered(proof.responses, position))
        )
    if hi > lo:  # the same challenge total, moved between branches
        moved = list(proof.challenges)
        moved[0], moved[1] = (moved[0] + 1) % ORDER, (moved[1] - 1) % ORDER
        assert not verifies(proof=RangeProof(tuple(moved), proof.responses))


@CRYPTO
@given(st.integers(2, 5), st.integers(0, 1))
def test_a_lying_prover_is_caught(value: int, claimed: int) -> None:
    """A prover runs the honest algorithm, claiming a 0/1 value its ciphertext does not hold."""
    key = base_mul(random_scalar())
    nonce = random_scalar()
    ciphertext = elgamal_encrypt(key, value, nonce)
    proof = prove_range(CONTEXT, key, VOTER_BYTES, SPEC, 0, 0, 1, ciphertext, claimed, nonce)
    assert not verify_range(CONTEXT, key, VOTER_BYTES, SPEC, 0, 0, 1, ciphertext, proof)


def test_a_fully_simulated_proof_fails() -> None:
    """Simulating every branch gives commitments that pass each branch's equation, but the
    challenges cannot also add up to the hash of the commitments they determine."""
    key = base_mul(random_scalar())
    ciphertext = elgamal_encrypt(key, 2, random_scalar())
    challenges = (random_scalar(), random_scalar())
    proof = RangeProof(challenges, (random_scalar(), random_scalar()))
    assert not verify_range(CONTEXT, key, VOTER_BYTES, SPEC, 0, 0, 1, ciphertext, proof)


def test_a_proof_moved_to_another_ciphertext_fails() -> None:
    key = base_mul(random_scalar())
    nonce = random_scalar()
    one = elgamal_encrypt(key, 1, nonce)
    proof = prove_range(CONTEXT, key, VOTER_BYTES, SPEC, 0, 0, 1, one, 1, nonce)
    two = elgamal_encrypt(key, 2, nonce)
    assert not verify_range(CONTEXT, key, VOTER_BYTES, SPEC, 0, 0, 1, two, proof)


def test_proving_a_value_outside_the_range_is_refused() -> None:
    key = base_mul(random_scalar())
    nonce = random_scalar()
    ciphertext = elgamal_encrypt(key, 2, nonce)
    with pytest.raises(InvalidSelection, match=r"\[0, 1\]"):
        prove_range(CONTEXT, key, VOTER_BYTES, SPEC, 0, 0, 1, ciphertext, 2, nonce)


def test_a_proof_with_the_wrong_number_of_branches_fails() -> None:
    key = base_mul(random_scalar())
    nonce = random_scalar()
    ciphertext = elgamal_encrypt(key, 1, nonce)
    proof = prove_range(CONTEXT, key, VOTER_BYTES, SPEC, 0, 0, 2, ciphertext, 1, nonce)
    assert not verify_range(CONTEXT, key, VOTER_BYTES, SPEC, 0, 0, 1, ciphertext, proof)


def test_range_proof_of_the_identity_ciphertext() -> None:
    """``Enc(0; 0)`` is two identity points; it still proves and verifies."""
    key = base_mul(random_scalar())
    zero = elgamal_encrypt(key, 0, 0)
    proof = prove_range(CONTEXT, key, VOTER_BYTES, SPEC, 0, 0, 1, zero, 0, 0)
    assert verify_range(CONTEXT, key, VOTER_BYTES, SPEC, 0, 0, 1, zero, proof)


@pytest.mark.parametrize("size", [0, 64, 127, 129])
def test_range_proofs_of_the_wrong_length_are_refused(size: int) -> None:
    with pytest.raises(InvalidEncoding, match="128 bytes"):
        RangeProof.from_bytes(bytes(size), 2)


def test_range_proofs_with_non_canonical_scalars_are_refused() -> None:
    for position in range(4):
        data = bytearray(128)
        data[32 * position : 32 * position + 32] = ORDER.to_bytes(32, "big")
        with pytest.raises(InvalidEncoding, match="group order"):
            RangeProof.from_bytes(bytes(data), 2)


def test_range_proofs_need_matching_challenges_and_responses() -> None:
    with pytest.raises(InvalidEncoding):
        RangeProof((1, 2), (3,))
    with pytest.raises(InvalidEncoding):
        RangeProof((), ())


def test_voter_must_be_twenty_bytes() -> None:
    key = base_mul(random_scalar())
    ciphertext = elgamal_encrypt(key, 0, 1)
    with pytest.raises(InvalidEncoding, match="20"):
        prove_range(CONTEXT, key, VOTER_BYTES[:19], SPEC, 0, 0, 1, ciphertext, 0, 1)


def test_proofs_are_frozen() -> None:
    proof = SchnorrProof(1, 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        proof.challenge = 3  # type: ignore[misc]
    assert isinstance(base_mul(1), Point)
