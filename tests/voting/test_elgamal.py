"""Exponential ElGamal (ledger.voting.crypto.elgamal): spec section 4.

Decryption inverts encryption, ciphertexts add to an encryption of the sum, the identity point
shows up where it must (m = 0, nonce 0, no ciphertexts), and the bounded discrete logarithm is
exact at its edges and fast at 500,000.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.voting.crypto import (
    IDENTITY,
    ORDER,
    Ciphertext,
    DecryptionError,
    G,
    InvalidEncoding,
    base_mul,
    discrete_log,
    elgamal_add,
    elgamal_decrypt,
    elgamal_encrypt,
    random_scalar,
)
from ledger.voting.crypto.elgamal import ZERO_CIPHERTEXT
from tests.voting import CRYPTO, nonzero_scalars, scalars

messages = st.integers(min_value=0, max_value=1000)


@CRYPTO
@given(nonzero_scalars, messages, scalars)
def test_decrypt_inverts_encrypt(secret: int, message: int, nonce: int) -> None:
    ciphertext = elgamal_encrypt(base_mul(secret), message, nonce)
    assert ciphertext.alpha == base_mul(nonce)
    assert elgamal_decrypt(secret, ciphertext, 1000) == message


@CRYPTO
@given(nonzero_scalars, st.lists(st.tuples(messages, scalars), max_size=6))
def test_ciphertexts_add_to_an_encryption_of_the_sum(
    secret: int, parts: list[tuple[int, int]]
) -> None:
    public = base_mul(secret)
    ciphertexts = [elgamal_encrypt(public, m, r) for m, r in parts]
    total = elgamal_add(*ciphertexts)
    assert elgamal_decrypt(secret, total, 6000) == sum(m for m, _ in parts)
    assert total == elgamal_encrypt(
        public, sum(m for m, _ in parts), sum(r for _, r in parts) % ORDER
    )
    if ciphertexts:
        stepwise = ciphertexts[0]
        for ciphertext in ciphertexts[1:]:
            stepwise = stepwise + ciphertext
        assert stepwise == total


def test_identity_edges() -> None:
    secret = random_scalar()
    public = base_mul(secret)
    zero = elgamal_encrypt(public, 0, 0)
    assert zero == ZERO_CIPHERTEXT == elgamal_add()
    assert zero.alpha.is_identity
    assert zero.beta.is_identity
    assert zero.to_bytes() == bytes(66)
    assert elgamal_decrypt(secret, zero, 0) == 0
    one = elgamal_encrypt(public, 1, random_scalar())
    assert one + zero == one
    # an encryption of 1 and one of "-1" under the negated nonce cancel to the identity
    minus_one = Ciphertext(-one.alpha, -one.beta)
    assert elgamal_add(one, minus_one) == ZERO_CIPHERTEXT
    # message 0 with a nonce: beta = rK, not the identity
    assert elgamal_decrypt(secret, elgamal_encrypt(public, 0, random_scalar()), 5) == 0


def test_negative_messages_cannot_be_encrypted() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        elgamal_encrypt(G, -1, 1)


@CRYPTO
@given(messages, scalars)
def test_ciphertexts_round_trip(message: int, nonce: int) -> None:
    ciphertext = elgamal_encrypt(base_mul(12345), message, nonce)
    data = ciphertext.to_bytes()
    assert len(data) == 66
    assert Ciphertext.from_bytes(data) == ciphertext


@CRYPTO
@given(st.binary(max_size=100).filter(lambda b: len(b) != 66))
def test_ciphertexts_of_the_wrong_length_are_refused(data: bytes) -> None:
    with pytest.raises(InvalidEncoding, match="66 bytes"):
        Ciphertext.from_bytes(data)


def test_ciphertexts_with_bad_points_are_refused() -> None:
    good = elgamal_encrypt(G, 1, 2).to_bytes()
    with pytest.raises(InvalidEncoding):
        Ciphertext.from_bytes(b"\x04" + good[1:])
    with pytest.raises(InvalidEncoding):
        Ciphertext.from_bytes(good[:33] + b"\x02" + bytes(32))


@CRYPTO
@given(st.integers(min_value=0, max_value=500_000))
def test_discrete_log_finds_counts_up_to_500000(value: int) -> None:
    assert discrete_log(base_mul(value), 500_000) == value


@pytest.mark.parametrize("bound", [0, 1, 2, 3, 15, 16, 17, 99, 100, 500_000])
def test_discrete_log_edges(bound: int) -> None:
    assert discrete_log(IDENTITY, bound) == 0
    assert discrete_log(base_mul(bound), bound) == bound
    with pytest.raises(DecryptionError, match=f"between 0 and {bound}"):
        discrete_log(base_mul(bound + 1), bound)
    with pytest.raises(DecryptionError):
        discrete_log(-G, bound)  # -1 = n - 1, far out of range


def test_discrete_log_is_fast_at_500000() -> None:
    started = time.perf_counter()
    assert discrete_log(base_mul(499_999), 500_000) == 499_999
    with pytest.raises(DecryptionError):
        discrete_log(base_mul(random_scalar()), 500_000)
    assert time.perf_counter() - started < 1.0


def test_discrete_log_refuses_negative_bounds() -> None:
    with pytest.raises(DecryptionError):
        discrete_log(IDENTITY, -1)
