"""Secret ballots (ledger.voting.crypto.ballot and .batch): spec section 5 and the counting rule.

Honest ballots of every shape verify and decrypt to the choices; the wallet refuses choices the
election does not allow; a forged ballot (two selections in a single-choice election, a
selection of 2) fails verification with a reason naming what failed; a ballot moved to another
voter, election or key fails; any flipped byte is caught; the batch verifier agrees with the
single one, in one process or several.
"""

from __future__ import annotations

import hashlib

import pytest
from eth_utils import keccak
from hypothesis import given
from hypothesis import strategies as st

from ledger.voting.crypto import (
    ORDER,
    BallotSpec,
    Ciphertext,
    EncryptedBallot,
    InvalidEncoding,
    InvalidProof,
    InvalidSelection,
    RangeProof,
    VotingCryptoError,
    base_mul,
    elgamal_add,
    elgamal_decrypt,
    elgamal_encrypt,
    encrypt_ballot,
    parse_and_verify,
    prove_range,
    random_scalar,
    tracking_code,
    verify_ballot,
    verify_ballots,
)
from ledger.voting.crypto.batch import MIN_PARALLEL
from ledger.voting.crypto.context import address_bytes
from ledger.voting.crypto.group import IDENTITY
from ledger.voting.crypto.proofs import SUM_STATEMENT
from tests.voting import CONTEXT, CRYPTO, OTHER_CONTEXTS, OTHER_VOTER, VOTER

SECRET = 0x1234567890ABCDEF1234567890ABCDEF1234567890ABCDEF1234567890ABCDEF
KEY = base_mul(SECRET)
SINGLE = BallotSpec(5, 1, 1)
APPROVAL = BallotSpec(5, 0, 5)


@st.composite
def specs_and_choices(draw: st.DrawFn) -> tuple[BallotSpec, list[int]]:
    options = draw(st.integers(2, 6))
    low = draw(st.integers(0, options))
    high = draw(st.integers(low, min(options, low + 3)))
    count = draw(st.integers(low, high))
    choices = draw(st.permutations(range(options)))[:count]
    return BallotSpec(options, low, high), choices


@CRYPTO
@given(specs_and_choices())
def test_honest_ballots_verify_and_decrypt(shape: tuple[BallotSpec, list[int]]) -> None:
    spec, choices = shape
    ballot = encrypt_ballot(CONTEXT, KEY, spec, VOTER, choices)
    verify_ballot(CONTEXT, KEY, spec, VOTER, ballot)
    data = ballot.to_bytes()
    assert len(data) == spec.ballot_size
    assert data[:2] == bytes((1, spec.option_count))
    assert EncryptedBallot.from_bytes(data, spec) == ballot
    assert parse_and_verify(CONTEXT, KEY, spec, VOTER, data) == ballot
    assert tracking_code(data) == keccak(data)
    assert len(tracking_code(data)) == 32
    plain = [elgamal_decrypt(SECRET, ciphertext, 1) for ciphertext in ballot.selections]
    assert plain == [1 if option in choices else 0 for option in range(spec.option_count)]
    assert elgamal_decrypt(SECRET, elgamal_add(*ballot.selections), 6) == len(choices)


def test_ballots_are_randomised() -> None:
    first = encrypt_ballot(CONTEXT, KEY, SINGLE, VOTER, [1]).to_bytes()
    second = encrypt_ballot(CONTEXT, KEY, SINGLE, VOTER, [1]).to_bytes()
    assert first != second
    assert tracking_code(first) != tracking_code(second)


@pytest.mark.parametrize(
    ("spec", "choices", "reason"),
    [
        (SINGLE, [1, 2], "2 options were chosen"),
        (SINGLE, [], "0 options were chosen"),
        (SINGLE, [5], "Option 5 does not exist"),
        (SINGLE, [-1], "Option -1 does not exist"),
        (APPROVAL, [2, 2], "more than once"),
        (BallotSpec(4, 2, 3), [0], "takes 2 to 3"),
        (BallotSpec(4, 0, 2), [0, 1, 3], "takes 0 to 2"),
    ],
)
def test_the_wallet_refuses_choices_the_election_does_not_allow(
    spec: BallotSpec, choices: list[int], reason: str
) -> None:
    with pytest.raises(InvalidSelection, match=reason):
        encrypt_ballot(CONTEXT, KEY, spec, VOTER, choices)


def test_the_wallet_refuses_the_identity_key() -> None:
    with pytest.raises(VotingCryptoError, match="identity"):
        encrypt_ballot(CONTEXT, IDENTITY, SINGLE, VOTER, [0])


def _forge_two_selections(sum_proof_value: int | None) -> EncryptedBallot:
    """A single-choice ballot selecting options 0 and 1: each 0/1 proof is honest; the count
    proof ``[1, 1]`` either lies (claims 1 of a ciphertext of 2) or is simulated."""
    voter = address_bytes(VOTER)
    nonces = [random_scalar() for _ in range(5)]
    values = [1, 1, 0, 0, 0]
    selections = [elgamal_encrypt(KEY, v, r) for v, r in zip(values, nonces, strict=True)]
    proofs = [
        prove_range(CONTEXT, KEY, voter, SINGLE, option, 0, 1, ct, value, nonce)
        for option, (ct, value, nonce) in enumerate(zip(selections, values, nonces, strict=True))
    ]
    total = elgamal_add(*selections)
    if sum_proof_value is None:
        sum_proof = RangeProof((random_scalar(),), (random_scalar(),))
    else:
        sum_proof = prove_range(
            CONTEXT,
            KEY,
            voter,
            SINGLE,
            SUM_STATEMENT,
            1,
            1,
            total,
            sum_proof_value,
            sum(nonces) % ORDER,
        )
    return EncryptedBallot(tuple(selections), tuple(proofs), sum_proof)


@pytest.mark.parametrize("sum_proof_value", [1, None], ids=["lying", "simulated"])
def test_two_selections_in_a_single_choice_election_fail(sum_proof_value: int | None) -> None:
    forged = _forge_two_selections(sum_proof_value)
    assert elgamal_decrypt(SECRET, elgamal_add(*forged.selections), 5) == 2
    with pytest.raises(InvalidProof, match="selection count"):
        verify_ballot(CONTEXT, KEY, SINGLE, VOTER, forged)
    with pytest.raises(InvalidProof, match="selection count"):
        parse_and_verify(CONTEXT, KEY, SINGLE, VOTER, forged.to_bytes())


@CRYPTO
@given(st.integers(0, 4), st.integers(2, 10))
def test_a_selection_of_more_than_one_fails(option: int, weight: int) -> None:
    """Weighting one option (a ciphertext of ``weight``, a lying 0/1 proof) names the option."""
    honest = encrypt_ballot(CONTEXT, KEY, APPROVAL, VOTER, [])
    nonce = random_scalar()
    heavy = elgamal_encrypt(KEY, weight, nonce)
    proof = prove_range(CONTEXT, KEY, address_bytes(VOTER), APPROVAL, option, 0, 1, heavy, 1, nonce)
    selections = list(honest.selections)
    proofs = list(honest.proofs)
    selections[option], proofs[option] = heavy, proof
    forged = EncryptedBallot(tuple(selections), tuple(proofs), honest.sum_proof)
    with pytest.raises(InvalidProof, match=f"option {option} is 0 or 1"):
        verify_ballot(CONTEXT, KEY, APPROVAL, VOTER, forged)


def test_a_ballot_is_bound_to_its_voter_election_key_and_shape() -> None:
    data = encrypt_ballot(CONTEXT, KEY, SINGLE, VOTER, [3]).to_bytes()
    with pytest.raises(InvalidProof, match=OTHER_VOTER):
        parse_and_verify(CONTEXT, KEY, SINGLE, OTHER_VOTER, data)
    for other in OTHER_CONTEXTS:
        with pytest.raises(InvalidProof, match="option 0"):
            parse_and_verify(other, KEY, SINGLE, VOTER, data)
    with pytest.raises(InvalidProof):
        parse_and_verify(CONTEXT, base_mul(SECRET + 1), SINGLE, VOTER, data)
    # same size, other bounds: the bounds are in every challenge
    with pytest.raises(InvalidProof):
        parse_and_verify(CONTEXT, KEY, BallotSpec(5, 2, 2), VOTER, data)
    with pytest.raises(InvalidEncoding):
        parse_and_verify(CONTEXT, KEY, BallotSpec(6, 1, 1), VOTER, data)
    with pytest.raises(InvalidEncoding):
        parse_and_verify(CONTEXT, KEY, BallotSpec(5, 1, 2), VOTER, data)


def test_selections_cannot_be_swapped_between_ballots() -> None:
    first = encrypt_ballot(CONTEXT, KEY, SINGLE, VOTER, [0])
    second = encrypt_ballot(CONTEXT, KEY, SINGLE, VOTER, [1])
    mixed = EncryptedBallot(
        (second.selections[0], *first.selections[1:]),
        (second.proofs[0], *first.proofs[1:]),
        first.sum_proof,
    )
    with pytest.raises(InvalidProof, match="selection count"):
        verify_ballot(CONTEXT, KEY, SINGLE, VOTER, mixed)
    reordered = EncryptedBallot(
        (first.selections[1], first.selections[0], *first.selections[2:]),
        (first.proofs[1], first.proofs[0], *first.proofs[2:]),
        first.sum_proof,
    )
    with pytest.raises(InvalidProof, match="option 0"):
        verify_ballot(CONTEXT, KEY, SINGLE, VOTER, reordered)


BALLOT = encrypt_ballot(CONTEXT, KEY, SINGLE, VOTER, [2]).to_bytes()


@CRYPTO
@given(st.integers(0, len(BALLOT) - 1), st.integers(1, 255))
def test_any_changed_byte_voids_the_ballot(position: int, delta: int) -> None:
    data = bytearray(BALLOT)
    data[position] = (data[position] + delta) % 256
    with pytest.raises((InvalidEncoding, InvalidProof)):
        parse_and_verify(CONTEXT, KEY, SINGLE, VOTER, bytes(data))


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "1036 bytes"),
        (BALLOT[:-1], "1036 bytes"),
        (BALLOT + b"\x00", "1036 bytes"),
        (b"\x02" + BALLOT[1:], "version 2"),
        (b"\x00" + BALLOT[1:], "version 0"),
        (BALLOT[:1] + b"\x04" + BALLOT[2:], "for 4 options"),
        (BALLOT[:2] + b"\x05" + BALLOT[3:], "Option 0 of the ballot is malformed"),
        (BALLOT[: 2 + 66] + ORDER.to_bytes(32, "big") + BALLOT[2 + 98 :], "group order"),
        (BALLOT[:-32] + (2**256 - 1).to_bytes(32, "big"), "selection count"),
    ],
)
def test_malformed_ballots_are_refused(data: bytes, reason: str) -> None:
    with pytest.raises(InvalidEncoding, match=reason):
        EncryptedBallot.from_bytes(data, SINGLE)


def test_verify_ballot_refuses_a_ballot_of_another_shape() -> None:
    ballot = encrypt_ballot(CONTEXT, KEY, BallotSpec(4, 1, 1), VOTER, [0])
    with pytest.raises(InvalidProof, match="4 selections"):
        verify_ballot(CONTEXT, KEY, SINGLE, VOTER, ballot)


def test_identity_selections_still_verify() -> None:
    """An all-zero ballot whose nonces happen to be 0 is made of identity points; valid."""
    voter = address_bytes(VOTER)
    zero = elgamal_encrypt(KEY, 0, 0)
    proofs = tuple(
        prove_range(CONTEXT, KEY, voter, APPROVAL, option, 0, 1, zero, 0, 0) for option in range(5)
    )
    total = elgamal_add(*([zero] * 5))
    assert total == Ciphertext(IDENTITY, IDENTITY)
    sum_proof = prove_range(CONTEXT, KEY, voter, APPROVAL, SUM_STATEMENT, 0, 5, total, 0, 0)
    ballot = EncryptedBallot((zero,) * 5, proofs, sum_proof)
    assert parse_and_verify(CONTEXT, KEY, APPROVAL, VOTER, ballot.to_bytes()) == ballot


def _mixed_batch(count: int) -> tuple[list[tuple[str, bytes]], list[bool]]:
    ballots: list[tuple[str, bytes]] = []
    valid: list[bool] = []
    for n in range(count):
        data = encrypt_ballot(CONTEXT, KEY, SINGLE, VOTER, [n % 5]).to_bytes()
        if n % 7 == 3:
            ballots.append((OTHER_VOTER, data))  # copied to another voter
            valid.append(False)
        elif n % 11 == 5:
            ballots.append((VOTER, data[:-1]))  # truncated
            valid.append(False)
        else:
            ballots.append((VOTER, data))
            valid.append(True)
    return ballots, valid


def test_batch_verification_in_this_process() -> None:
    ballots, valid = _mixed_batch(12)
    results = verify_ballots(CONTEXT, KEY, SINGLE, ballots, workers=1)
    assert [r is None for r in results] == valid
    assert results[3] is not None
    assert "does not verify for voter" in results[3]
    assert results[5] is not None
    assert "bytes" in results[5]


def test_batch_verification_in_worker_processes() -> None:
    ballots, valid = _mixed_batch(MIN_PARALLEL + 6)
    results = verify_ballots(CONTEXT, KEY, SINGLE, ballots, workers=2)
    assert [r is None for r in results] == valid
    assert results == verify_ballots(CONTEXT, KEY, SINGLE, ballots, workers=1)


def test_batch_verification_of_nothing() -> None:
    assert verify_ballots(CONTEXT, KEY, SINGLE, [], workers=2) == []


# --- An independent reading of section 5 ---------------------------------------------------------
# Pure-Python curve arithmetic and byte slicing straight from the spec's text, sharing no code
# with ledger.voting.crypto: a second verifier must reach the same verdict (spec preamble).

_P = 2**256 - 2**32 - 977
_GX = 0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798
_GY = 0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8
_Affine = tuple[int, int] | None


def _add(p: _Affine, q: _Affine) -> _Affine:
    if p is None:
        return q
    if q is None:
        return p
    if p[0] == q[0] and (p[1] + q[1]) % _P == 0:
        return None
    if p == q:
        slope = 3 * p[0] * p[0] * pow(2 * p[1], -1, _P)
    else:
        slope = (q[1] - p[1]) * pow(q[0] - p[0], -1, _P)
    x = (slope * slope - p[0] - q[0]) % _P
    return x, (slope * (p[0] - x) - p[1]) % _P


def _mul(k: int, p: _Affine) -> _Affine:
    result: _Affine = None
    k %= ORDER
    while k:
        if k & 1:
            result = _add(result, p)
        p = _add(p, p)
        k >>= 1
    return result


def _decode(data: bytes) -> _Affine:
    if data == bytes(33):
        return None
    x = int.from_bytes(data[1:], "big")
    y = pow((x**3 + 7) % _P, (_P + 1) // 4, _P)
    if y % 2 != data[0] - 2:
        y = _P - y
    return x, y


def _encode(p: _Affine) -> bytes:
    if p is None:
        return bytes(33)
    return bytes((2 + p[1] % 2,)) + p[0].to_bytes(32, "big")


def _reference_verify(
    context_digest: bytes, key: bytes, voter: bytes, spec: BallotSpec, data: bytes
) -> bool:
    def hq(*items: bytes) -> int:
        tag = b"cityledger/voting/v1/range"
        body = len(tag).to_bytes(4, "big") + tag
        body += b"".join(len(i).to_bytes(4, "big") + i for i in items)
        return int.from_bytes(hashlib.sha256(body).digest(), "big") % ORDER

    def u256(value: int) -> bytes:
        return value.to_bytes(32, "big")

    g, k = (_GX, _GY), _decode(key)
    n, low, high = spec.option_count, spec.min_selections, spec.max_selections

    def range_ok(
        index: int, lo: int, hi: int, a: _Affine, b: _Affine, cs: list[int], us: list[int]
    ) -> bool:
        items = [context_digest, key, voter, u256(n), u256(low), u256(high), u256(index)]
        items += [u256(lo), u256(hi), _encode(a), _encode(b)]
        for j, c, u in zip(range(lo, hi + 1), cs, us, strict=True):
            p_j = _add(_mul(u, g), _mul(-c, a))
            q_j = _add(_mul(u, k), _mul(-c, _add(b, _mul(-j, g))))
            items += [_encode(p_j), _encode(q_j)]
        return hq(*items) == sum(cs) % ORDER

    assert data[:2] == bytes((1, n))
    offset, total_a, total_b = 2, None, None
    for option in range(n):
        a, b = _decode(data[offset : offset + 33]), _decode(data[offset + 33 : offset + 66])
        scalars = [
            int.from_bytes(data[offset + 66 + 32 * i : offset + 98 + 32 * i], "big")
            for i in range(4)
        ]
        if not range_ok(option, 0, 1, a, b, scalars[:2], scalars[2:]):
            return False
        total_a, total_b = _add(total_a, a), _add(total_b, b)
        offset += 194
    width = high - low + 1
    scalars = [
        int.from_bytes(data[offset + 32 * i : offset + 32 * i + 32], "big")
        for i in range(2 * width)
    ]
    return range_ok(255, low, high, total_a, total_b, scalars[:width], scalars[width:])


@pytest.mark.parametrize(
    ("spec", "choices"), [(BallotSpec(3, 1, 1), [2]), (BallotSpec(3, 0, 2), [0, 2])]
)
def test_an_independent_verifier_agrees(spec: BallotSpec, choices: list[int]) -> None:
    data = encrypt_ballot(CONTEXT, KEY, spec, VOTER, choices).to_bytes()
    voter = bytes.fromhex(VOTER[2:])
    assert _reference_verify(CONTEXT.digest, KEY.to_bytes(), voter, spec, data)
    assert not _reference_verify(
        CONTEXT.digest, KEY.to_bytes(), bytes.fromhex(OTHER_VOTER[2:]), spec, data
    )
    forged = _forge_two_selections(1).to_bytes()
    assert not _reference_verify(CONTEXT.digest, KEY.to_bytes(), voter, SINGLE, forged)
