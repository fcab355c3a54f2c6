"""The tally and its threshold decryption (ledger.voting.crypto.decryption): spec section 8.

After a 3-of-5 ceremony and an election's ballots, any 3 trustees' partial decryptions give
the true counts and 2 cannot (combine refuses; a Lagrange interpolation forced over 2 gives a
wrong value); a wrong partial decryption fails verification naming the trustee and the option;
an empty tally is all identities and decrypts to zeros; the blobs round-trip.
"""

from __future__ import annotations

import itertools
from collections import Counter

import pytest
from eth_utils import keccak
from hypothesis import given
from hypothesis import strategies as st

from ledger.voting.crypto import (
    ORDER,
    BallotSpec,
    ChaumPedersenProof,
    Ciphertext,
    DecryptionError,
    EncryptedBallot,
    G,
    InvalidEncoding,
    InvalidProof,
    PartialDecryption,
    base_mul,
    combine,
    discrete_log,
    encrypt_ballot,
    lagrange_coefficient,
    partial_decrypt,
    tally_ciphertexts,
    tally_hash,
    verification_key,
    verify_partial,
)
from ledger.voting.crypto.group import IDENTITY, linear_combination
from ledger.voting.crypto.proofs import verify_equal_log
from tests.voting import CONTEXT, CRYPTO, OTHER_CONTEXTS, OTHER_VOTER, VOTER, Ceremony, run_ceremony

TRUSTEES, THRESHOLD = 5, 3
SPEC = BallotSpec(4, 1, 1)
CHOICES = [0, 2, 2, 3, 2, 0, 1]


@pytest.fixture(scope="module")
def ceremony() -> Ceremony:
    return run_ceremony(CONTEXT, TRUSTEES, THRESHOLD)


@pytest.fixture(scope="module")
def ballots(ceremony: Ceremony) -> list[EncryptedBallot]:
    voters = [VOTER, OTHER_VOTER]
    return [
        encrypt_ballot(CONTEXT, ceremony.public_key, SPEC, voters[n % 2], [choice])
        for n, choice in enumerate(CHOICES)
    ]


@pytest.fixture(scope="module")
def tally(ballots: list[EncryptedBallot]) -> tuple[Ciphertext, ...]:
    return tally_ciphertexts(ballots, SPEC.option_count)


@pytest.fixture(scope="module")
def partials(ceremony: Ceremony, tally: tuple[Ciphertext, ...]) -> dict[int, PartialDecryption]:
    return {
        index: partial_decrypt(CONTEXT, index, share, tally)
        for index, share in ceremony.secret_shares.items()
    }


EXPECTED = tuple(Counter(CHOICES)[option] for option in range(SPEC.option_count))


def test_honest_partials_verify(
    ceremony: Ceremony, tally: tuple[Ciphertext, ...], partials: dict[int, PartialDecryption]
) -> None:
    for index, partial in partials.items():
        verify_partial(
            CONTEXT, index, verification_key(index, ceremony.commitments), tally, partial
        )
        assert partial.decryptions == tuple(c.alpha * ceremony.secret_shares[index] for c in tally)


def test_any_three_trustees_decrypt_the_tally(
    tally: tuple[Ciphertext, ...], partials: dict[int, PartialDecryption]
) -> None:
    for group in itertools.combinations(sorted(partials), THRESHOLD):
        chosen = {index: partials[index] for index in group}
        assert combine(tally, chosen, THRESHOLD, len(CHOICES)) == EXPECTED
    assert combine(tally, partials, THRESHOLD, len(CHOICES)) == EXPECTED  # all five
    assert combine(tally, {i: partials[i] for i in (1, 3, 4, 5)}, THRESHOLD, 100) == EXPECTED


def test_two_trustees_cannot_decrypt(
    tally: tuple[Ciphertext, ...], partials: dict[int, PartialDecryption]
) -> None:
    for group in itertools.combinations(sorted(partials), THRESHOLD - 1):
        chosen = {index: partials[index] for index in group}
        with pytest.raises(DecryptionError, match="2 trustees posted a valid decryption, but 3"):
            combine(tally, chosen, THRESHOLD, len(CHOICES))
        # forcing the interpolation over two shares gives a point that is not the count's
        weights = {index: lagrange_coefficient(index, group) for index in group}
        for option, ciphertext in enumerate(tally):
            forced = linear_combination(
                0,
                (1, ciphertext.beta),
                *((ORDER - weights[i], chosen[i].decryptions[option]) for i in group),
            )
            assert forced != base_mul(EXPECTED[option])
            with pytest.raises(DecryptionError):
                discrete_log(forced, 10_000)


def test_combine_refuses_too_small_a_bound(
    tally: tuple[Ciphertext, ...], partials: dict[int, PartialDecryption]
) -> None:
    with pytest.raises(DecryptionError, match="Option 2 does not decrypt"):
        combine(tally, partials, THRESHOLD, 2)  # option 2 has 3 votes


def test_a_wrong_partial_fails_verification(
    ceremony: Ceremony, tally: tuple[Ciphertext, ...], partials: dict[int, PartialDecryption]
) -> None:
    key_of = {i: verification_key(i, ceremony.commitments) for i in partials}
    honest = partials[2]
    shifted = PartialDecryption(
        (honest.decryptions[0], honest.decryptions[1] + G, *honest.decryptions[2:]),
        honest.proofs,
    )
    with pytest.raises(InvalidProof, match="Trustee 2's decryption of option 1 does not verify"):
        verify_partial(CONTEXT, 2, key_of[2], tally, shifted)
    # the wrong share, honestly proved: the proof is for another verification key
    wrong = partial_decrypt(CONTEXT, 2, ceremony.secret_shares[2] + 1, tally)
    with pytest.raises(InvalidProof, match="option 0"):
        verify_partial(CONTEXT, 2, key_of[2], tally, wrong)
    # a combine with a wrong partial does not give the true counts
    with pytest.raises(DecryptionError):
        combine(tally, {1: partials[1], 2: wrong, 3: partials[3]}, THRESHOLD, len(CHOICES))
    # someone else's partial, another trustee index, another tally, another election
    with pytest.raises(InvalidProof, match="Trustee 3's"):
        verify_partial(CONTEXT, 3, key_of[3], tally, honest)
    with pytest.raises(InvalidProof):
        verify_partial(CONTEXT, 2, key_of[3], tally, honest)
    other_tally = (tally[1], tally[0], *tally[2:])
    with pytest.raises(InvalidProof, match="option 0"):
        verify_partial(CONTEXT, 2, key_of[2], other_tally, honest)
    for other in OTHER_CONTEXTS:
        with pytest.raises(InvalidProof):
            verify_partial(other, 2, key_of[2], tally, honest)
    # a tampered proof
    proof = honest.proofs[3]
    tampered = PartialDecryption(
        honest.decryptions,
        (*honest.proofs[:3], ChaumPedersenProof(proof.challenge, (proof.response + 1) % ORDER)),
    )
    with pytest.raises(InvalidProof, match="option 3"):
        verify_partial(CONTEXT, 2, key_of[2], tally, tampered)
    # too few options
    short = PartialDecryption(honest.decryptions[:3], honest.proofs[:3])
    with pytest.raises(InvalidProof, match="covers 3 options"):
        verify_partial(CONTEXT, 2, key_of[2], tally, short)


def test_the_empty_tally(ceremony: Ceremony) -> None:
    empty = tally_ciphertexts([], 3)
    assert empty == (Ciphertext(IDENTITY, IDENTITY),) * 3
    assert tally_hash(empty) == keccak(bytes(66 * 3))
    partials = {
        index: partial_decrypt(CONTEXT, index, share, empty)
        for index, share in ceremony.secret_shares.items()
    }
    for index, partial in partials.items():
        assert all(d.is_identity for d in partial.decryptions)
        verify_partial(
            CONTEXT, index, verification_key(index, ceremony.commitments), empty, partial
        )
    assert combine(empty, {i: partials[i] for i in (2, 4, 5)}, THRESHOLD, 0) == (0, 0, 0)


def test_tally_hash(tally: tuple[Ciphertext, ...]) -> None:
    data = b"".join(c.alpha.to_bytes() + c.beta.to_bytes() for c in tally)
    assert tally_hash(tally) == keccak(data)
    assert tally_hash(tally) != tally_hash((tally[1], tally[0], *tally[2:]))


def test_tally_refuses_ballots_of_another_shape(ballots: list[EncryptedBallot]) -> None:
    with pytest.raises(InvalidEncoding, match="Ballot 0 has 4 selections"):
        tally_ciphertexts(ballots, 5)


def test_partials_round_trip(partials: dict[int, PartialDecryption]) -> None:
    for partial in partials.values():
        data = partial.to_bytes()
        assert len(data) == 2 + SPEC.option_count * 97
        assert data[:2] == bytes((1, SPEC.option_count))
        assert PartialDecryption.from_bytes(data, SPEC.option_count) == partial


def test_malformed_partials_are_refused(partials: dict[int, PartialDecryption]) -> None:
    data = partials[1].to_bytes()
    cases = [
        (data[:-1], "bytes"),
        (data + b"\x00", "bytes"),
        (b"\x02" + data[1:], "version 2"),
        (data[:1] + b"\x05" + data[2:], "of 5 options"),
        (data[:2] + b"\x05" + data[3:], "option 0 is malformed"),
        (data[:35] + ORDER.to_bytes(32, "big") + data[67:], "group order"),
        (data[:-32] + (2**256 - 1).to_bytes(32, "big"), "option 3 is malformed"),
    ]
    for bad, reason in cases:
        with pytest.raises(InvalidEncoding, match=reason):
            PartialDecryption.from_bytes(bad, SPEC.option_count)
    with pytest.raises(InvalidEncoding):
        PartialDecryption.from_bytes(data, 5)


@CRYPTO
@given(
    st.lists(st.integers(0, ORDER - 1), min_size=1, max_size=5),
    st.sets(st.integers(1, 254), min_size=5, max_size=8),
)
def test_lagrange_interpolates_any_polynomial_at_zero(
    coefficients: list[int], points: set[int]
) -> None:
    def f(x: int) -> int:
        return sum(a * pow(x, j, ORDER) for j, a in enumerate(coefficients)) % ORDER

    group = sorted(points)[: len(coefficients)]
    weights = [lagrange_coefficient(i, group) for i in group]
    assert sum(w * f(i) for w, i in zip(weights, group, strict=True)) % ORDER == coefficients[0]
    assert sum(weights) % ORDER == 1


def test_lagrange_refuses_bad_index_sets() -> None:
    with pytest.raises(DecryptionError, match="distinct"):
        lagrange_coefficient(1, [1, 1, 2])
    with pytest.raises(DecryptionError, match="non-zero"):
        lagrange_coefficient(1, [0, 1])
    with pytest.raises(DecryptionError, match="not among"):
        lagrange_coefficient(3, [1, 2])
    assert lagrange_coefficient(4, [4]) == 1


def test_a_partial_proves_against_the_tally_alpha(
    ceremony: Ceremony, tally: tuple[Ciphertext, ...], partials: dict[int, PartialDecryption]
) -> None:
    """The statement of section 8 is ``log_G S_l == log_{A_o} D_lo`` (``B_o`` is not in it)."""
    index = 4
    key = verification_key(index, ceremony.commitments)
    for option, ciphertext in enumerate(tally):
        assert verify_equal_log(
            CONTEXT,
            index,
            option,
            key,
            ciphertext.alpha,
            partials[index].decryptions[option],
            partials[index].proofs[option],
        )
