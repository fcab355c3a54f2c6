"""The group of M-voting (ledger.voting.crypto.group and .context): spec sections 1 and 2.

Point arithmetic through libsecp256k1 with the identity represented explicitly, canonical
encodings that refuse anything else, ``Hq`` exactly as the spec writes it, and the election
context digest.
"""

from __future__ import annotations

import hashlib
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.exceptions import LedgerError
from ledger.voting.crypto import (
    IDENTITY,
    ORDER,
    BallotSpec,
    ElectionContext,
    G,
    InvalidEncoding,
    InvalidSelection,
    Point,
    VotingCryptoError,
    base_mul,
    hash_to_scalar,
    random_scalar,
    scalar_from_bytes,
    scalar_to_bytes,
)
from ledger.voting.crypto.group import linear_combination, point_sum, precompute
from tests.voting import CONTEXT, CRYPTO, nonzero_scalars, scalars

FIELD_PRIME = 2**256 - 2**32 - 977


def _has_y(x: int) -> bool:
    """Whether ``x^3 + 7`` is a square mod p, i.e. some point of the curve has this ``x``."""
    rhs = (pow(x, 3, FIELD_PRIME) + 7) % FIELD_PRIME
    return rhs == 0 or pow(rhs, (FIELD_PRIME - 1) // 2, FIELD_PRIME) == 1


def test_errors_are_ledger_errors_and_value_errors() -> None:
    assert issubclass(VotingCryptoError, LedgerError)
    assert issubclass(InvalidEncoding, VotingCryptoError)
    assert issubclass(InvalidEncoding, ValueError)


def test_generator_is_secp256k1s() -> None:
    assert base_mul(1) == G
    assert G.to_bytes().hex() == (
        "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"
    )
    assert base_mul(ORDER).is_identity
    assert base_mul(ORDER + 1) == G


@CRYPTO
@given(scalars, scalars)
def test_addition_is_scalar_addition(a: int, b: int) -> None:
    assert base_mul(a) + base_mul(b) == base_mul(a + b)
    assert base_mul(a) - base_mul(b) == base_mul(a - b)
    assert base_mul(a) * b == base_mul(a * b) == b * base_mul(a)
    assert point_sum([base_mul(a), base_mul(b), base_mul(-a)]) == base_mul(b)


@CRYPTO
@given(scalars, scalars, scalars)
def test_linear_combination(g: int, a: int, b: int) -> None:
    point = base_mul(random_scalar())
    assert linear_combination(g, (a, point), (b, G)) == base_mul(g) + point * a + G * b


@CRYPTO
@given(nonzero_scalars)
def test_identity_edge_cases(k: int) -> None:
    point = base_mul(k)
    assert not point.is_identity
    assert (point + -point).is_identity
    assert (point - point) == IDENTITY
    assert point_sum([point, -point]) == IDENTITY
    assert linear_combination(k, (ORDER - k, G)) == IDENTITY
    assert point * 0 == IDENTITY
    assert point * ORDER == IDENTITY
    assert IDENTITY * k == IDENTITY
    assert IDENTITY + point == point == point + IDENTITY
    assert -IDENTITY == IDENTITY
    assert point + point == point * 2  # doubling goes through the same addition
    negated = -point
    assert -negated == point
    assert base_mul(0) == IDENTITY
    assert point_sum([]) == IDENTITY


def test_identity_encoding() -> None:
    assert IDENTITY.to_bytes() == bytes(33)
    assert Point.from_bytes(bytes(33)) is IDENTITY
    assert IDENTITY.is_identity


@CRYPTO
@given(scalars)
def test_points_round_trip(k: int) -> None:
    point = base_mul(k)
    data = point.to_bytes()
    assert len(data) == 33
    assert Point.from_bytes(data) == point
    assert pickle.loads(pickle.dumps(point)) == point
    assert hash(Point.from_bytes(data)) == hash(point)


@CRYPTO
@given(st.binary(min_size=0, max_size=70).filter(lambda b: len(b) != 33))
def test_points_of_the_wrong_length_are_refused(data: bytes) -> None:
    with pytest.raises(InvalidEncoding, match="33 bytes"):
        Point.from_bytes(data)


@CRYPTO
@given(nonzero_scalars, st.sampled_from([0, 1, 4, 5, 6, 7, 0xFF]))
def test_points_with_a_bad_prefix_are_refused(k: int, prefix: int) -> None:
    data = bytes((prefix,)) + base_mul(k).to_bytes()[1:]
    with pytest.raises(InvalidEncoding):
        Point.from_bytes(data)


@CRYPTO
@given(st.integers(min_value=0, max_value=FIELD_PRIME - 1), st.sampled_from([2, 3]))
def test_off_curve_points_are_refused(x: int, prefix: int) -> None:
    data = bytes((prefix,)) + x.to_bytes(32, "big")
    if _has_y(x):
        assert Point.from_bytes(data).to_bytes() == data
    else:
        with pytest.raises(InvalidEncoding, match="not a point"):
            Point.from_bytes(data)


def test_off_curve_examples() -> None:
    off = next(x for x in range(1, 100) if not _has_y(x))
    with pytest.raises(InvalidEncoding):
        Point.from_bytes(b"\x02" + off.to_bytes(32, "big"))
    with pytest.raises(InvalidEncoding):  # x >= p, even when x - p would be on the curve
        Point.from_bytes(b"\x02" + (FIELD_PRIME + 1).to_bytes(32, "big"))
    with pytest.raises(InvalidEncoding):  # uncompressed encodings are not the spec's
        Point.from_bytes(G.public_key().format(compressed=False))
    with pytest.raises(InvalidEncoding):  # 33 bytes, not all zero, x = 0 (not on the curve)
        Point.from_bytes(b"\x02" + bytes(32))


@CRYPTO
@given(scalars)
def test_scalars_round_trip(k: int) -> None:
    data = scalar_to_bytes(k)
    assert len(data) == 32
    assert scalar_from_bytes(data) == k


@CRYPTO
@given(st.integers(min_value=ORDER, max_value=2**256 - 1))
def test_non_canonical_scalars_are_refused(k: int) -> None:
    with pytest.raises(InvalidEncoding, match="group order"):
        scalar_from_bytes(k.to_bytes(32, "big"))
    with pytest.raises(InvalidEncoding):
        scalar_to_bytes(k)


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_scalars_of_the_wrong_length_are_refused(size: int) -> None:
    with pytest.raises(InvalidEncoding, match="32 bytes"):
        scalar_from_bytes(bytes(size))


def test_negative_scalars_cannot_be_encoded() -> None:
    with pytest.raises(InvalidEncoding):
        scalar_to_bytes(-1)


def test_random_scalars_are_non_zero_and_reduced() -> None:
    drawn = {random_scalar() for _ in range(50)}
    assert len(drawn) == 50
    assert all(0 < k < ORDER for k in drawn)


def test_hash_to_scalar_is_the_specs() -> None:
    tag = "cityledger/voting/v1/test"
    items = (b"", b"\x01\x02", bytes(33))
    manual = hashlib.sha256(
        len(tag).to_bytes(4, "big")
        + tag.encode()
        + b"".join(len(item).to_bytes(4, "big") + item for item in items)
    ).digest()
    assert hash_to_scalar(tag, *items) == int.from_bytes(manual, "big") % ORDER


@CRYPTO
@given(st.binary(max_size=8), st.binary(max_size=8), st.binary(max_size=8))
def test_hash_to_scalar_separates_parts_and_tags(a: bytes, b: bytes, c: bytes) -> None:
    joined = hash_to_scalar("t", a + b, c)
    if b:  # moving bytes between parts changes the hash: every part is length-prefixed
        assert hash_to_scalar("t", a, b + c) != joined
    assert hash_to_scalar("u", a + b, c) != joined
    assert hash_to_scalar("t", a + b, c) == joined
    assert 0 <= joined < ORDER


def test_election_context_digest() -> None:
    expected = hashlib.sha256(
        b"cityledger/voting/v1/election"
        + (31337).to_bytes(32, "big")
        + bytes.fromhex("5fbdb2315678afecb367f032d93f642f64180aa3")
        + (7).to_bytes(32, "big")
    ).digest()
    assert CONTEXT.digest == expected
    lower = ElectionContext(31337, CONTEXT.contract.lower(), 7)
    assert lower.digest == expected
    assert pickle.loads(pickle.dumps(CONTEXT)).digest == expected


@pytest.mark.parametrize(
    "contract",
    [
        "0x5fbdb2315678afecb367f032d93f642f64180aa",  # 19 bytes
        "5fbdb2315678afecb367f032d93f642f64180aa3",  # no 0x
        "0x5FBdb2315678afecb367f032d93F642f64180aa3",  # bad EIP-55 checksum
        "0xzzbdb2315678afecb367f032d93f642f64180aa3",
    ],
)
def test_election_context_refuses_bad_contracts(contract: str) -> None:
    with pytest.raises(InvalidEncoding, match="elections contract"):
        ElectionContext(1, contract, 1)


def test_election_context_refuses_out_of_range_ids() -> None:
    with pytest.raises(InvalidEncoding):
        ElectionContext(-1, CONTEXT.contract, 1)
    with pytest.raises(InvalidEncoding):
        ElectionContext(1, CONTEXT.contract, 2**256)


@CRYPTO
@given(st.integers(2, 32), st.data())
def test_ballot_spec_sizes(options: int, data: st.DataObject) -> None:
    low = data.draw(st.integers(0, options))
    high = data.draw(st.integers(low, options))
    spec = BallotSpec(options, low, high)
    assert spec.ballot_size == 2 + options * (66 + 128) + (high - low + 1) * 64


@pytest.mark.parametrize(
    ("options", "low", "high"),
    [(1, 1, 1), (33, 1, 1), (0, 0, 0), (5, 2, 1), (5, -1, 1), (5, 1, 6)],
)
def test_ballot_spec_refuses_bad_bounds(options: int, low: int, high: int) -> None:
    with pytest.raises(InvalidSelection):
        BallotSpec(options, low, high)


@CRYPTO
@given(scalars)
def test_precomputed_tables_multiply_the_same(k: int) -> None:
    point = base_mul(987654321)
    plain = linear_combination(0, (k, point), (3, G))
    precompute(point)
    assert linear_combination(0, (k, point), (3, G)) == plain
    assert point * k == base_mul(987654321 * k)
