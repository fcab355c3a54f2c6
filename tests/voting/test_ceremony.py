"""The trustees' key ceremony (ledger.voting.crypto.ceremony): spec section 3.

An honest 3-of-5 ceremony yields shares on one degree-2 polynomial whose value at 0 is the
election key's secret; every posted blob round-trips; a bad share, a share that does not
decrypt and a missing share each stop the ceremony naming the dealer; a commitment whose proof
of possession does not verify names its trustee.
"""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.voting.crypto import (
    ORDER,
    CeremonyError,
    CommitmentMessage,
    EncryptedShare,
    G,
    InvalidEncoding,
    SchnorrProof,
    SharesMessage,
    TrusteeSecrets,
    base_mul,
    deal_shares,
    election_public_key,
    lagrange_coefficient,
    prove_knowledge,
    receive_shares,
    start_ceremony,
    verification_key,
    verify_commitments,
)
from ledger.voting.crypto.group import IDENTITY
from tests.voting import CONTEXT, CRYPTO, OTHER_CONTEXTS, Ceremony, run_ceremony

TRUSTEES, THRESHOLD = 5, 3


@pytest.fixture(scope="module")
def ceremony() -> Ceremony:
    return run_ceremony(CONTEXT, TRUSTEES, THRESHOLD)


def test_the_election_key_is_the_sum_of_constant_terms(ceremony: Ceremony) -> None:
    constant = sum(s.coefficients[0] for s in ceremony.secrets.values()) % ORDER
    assert ceremony.public_key == base_mul(constant)
    assert election_public_key(ceremony.commitments) == ceremony.public_key


def test_shares_match_their_verification_keys(ceremony: Ceremony) -> None:
    for index, share in ceremony.secret_shares.items():
        assert verification_key(index, ceremony.commitments) == base_mul(share)
        expected = sum(s.share_for(index) for s in ceremony.secrets.values()) % ORDER
        assert share == expected


def test_any_threshold_of_shares_interpolates_the_key(ceremony: Ceremony) -> None:
    for group in itertools.combinations(sorted(ceremony.secret_shares), THRESHOLD):
        secret = (
            sum(lagrange_coefficient(i, group) * ceremony.secret_shares[i] for i in group) % ORDER
        )
        assert base_mul(secret) == ceremony.public_key
    for group in itertools.combinations(sorted(ceremony.secret_shares), THRESHOLD - 1):
        secret = (
            sum(lagrange_coefficient(i, group) * ceremony.secret_shares[i] for i in group) % ORDER
        )
        assert base_mul(secret) != ceremony.public_key


def test_blobs_round_trip(ceremony: Ceremony) -> None:
    for index in ceremony.secrets:
        commitment = ceremony.commitments[index]
        data = commitment.to_bytes()
        assert len(data) == 2 + (THRESHOLD + 1) * 97
        assert data[:2] == bytes((1, THRESHOLD))
        assert CommitmentMessage.from_bytes(data) == commitment
        shares = ceremony.shares[index]
        data = shares.to_bytes()
        assert len(data) == 2 + (TRUSTEES - 1) * (1 + 33 + 12 + 48)
        assert SharesMessage.from_bytes(data) == shares
        assert [s.recipient for s in shares.shares] == [i for i in range(1, 6) if i != index]
        secrets = ceremony.secrets[index]
        assert TrusteeSecrets.from_bytes(secrets.to_bytes()) == secrets


def test_secrets_are_not_printed(ceremony: Ceremony) -> None:
    secrets = ceremony.secrets[1]
    text = repr(secrets)
    assert str(secrets.coefficients[0]) not in text
    assert str(secrets.share_key) not in text
    assert "index=1" in text


def _with_share(
    ceremony: Ceremony, dealer: int, recipient: int, change: dict[str, object]
) -> dict[int, SharesMessage]:
    shares = dict(ceremony.shares)
    message = shares[dealer]
    shares[dealer] = SharesMessage(
        tuple(
            dataclasses.replace(share, **change) if share.recipient == recipient else share
            for share in message.shares
        )
    )
    return shares


def test_a_share_off_the_commitments_names_its_dealer(ceremony: Ceremony) -> None:
    """Dealer 2 deals trustee 4 a share of a polynomial it did not commit to."""
    honest = ceremony.secrets[2]
    lying = TrusteeSecrets(
        2, THRESHOLD, (honest.coefficients[0] + 1, *honest.coefficients[1:]), honest.share_key
    )
    share_keys = {i: m.share_key for i, m in ceremony.commitments.items()}
    shares = dict(ceremony.shares)
    shares[2] = deal_shares(CONTEXT, lying, share_keys)
    with pytest.raises(CeremonyError, match="Trustee 2's share for trustee 4 does not match") as e:
        receive_shares(CONTEXT, ceremony.secrets[4], ceremony.commitments, shares)
    assert e.value.dealer == 2


def test_a_share_that_does_not_decrypt_names_its_dealer(ceremony: Ceremony) -> None:
    original = ceremony.shares[3].share_for(1)
    assert original is not None
    flipped = bytes((original.ciphertext[0] ^ 1,)) + original.ciphertext[1:]
    for change in (
        {"ciphertext": flipped},
        {"nonce": bytes(12)},
        {"ephemeral": original.ephemeral + G},
        {"ephemeral": IDENTITY},
    ):
        shares = _with_share(ceremony, 3, 1, change)
        with pytest.raises(CeremonyError, match="Trustee 3's share for trustee 1") as e:
            receive_shares(CONTEXT, ceremony.secrets[1], ceremony.commitments, shares)
        assert e.value.dealer == 3


def test_a_share_for_another_election_does_not_decrypt(ceremony: Ceremony) -> None:
    """The share key and the AES-GCM associated data bind the election context: trustee 1
    cannot be handed this election's shares in another election, even with commitments whose
    proofs were re-made for that election."""
    other = OTHER_CONTEXTS[0]
    remade = {}
    for index, secrets in ceremony.secrets.items():
        message = ceremony.commitments[index]
        remade[index] = CommitmentMessage(
            message.commitments,
            tuple(
                prove_knowledge(other, index, j, commitment, coefficient)
                for j, (commitment, coefficient) in enumerate(
                    zip(message.commitments, secrets.coefficients, strict=True)
                )
            ),
            message.share_key,
            prove_knowledge(other, index, 255, message.share_key, secrets.share_key),
        )
    with pytest.raises(
        CeremonyError, match="Trustee 2's share for trustee 1 does not decrypt"
    ) as e:
        receive_shares(other, ceremony.secrets[1], remade, ceremony.shares)
    assert e.value.dealer == 2


def test_a_missing_share_names_its_dealer(ceremony: Ceremony) -> None:
    shares = dict(ceremony.shares)
    shares[5] = SharesMessage(tuple(s for s in shares[5].shares if s.recipient != 2))
    with pytest.raises(CeremonyError, match="Trustee 5 posted no share for trustee 2") as e:
        receive_shares(CONTEXT, ceremony.secrets[2], ceremony.commitments, shares)
    assert e.value.dealer == 5
    del shares[5]
    with pytest.raises(CeremonyError) as e:
        receive_shares(CONTEXT, ceremony.secrets[2], ceremony.commitments, shares)
    assert e.value.dealer == 5


def test_receiving_with_the_wrong_secrets_is_refused(ceremony: Ceremony) -> None:
    fresh, _ = start_ceremony(CONTEXT, 1, THRESHOLD)
    with pytest.raises(CeremonyError, match="trustee 1 are not the ones its secrets make"):
        receive_shares(CONTEXT, fresh, ceremony.commitments, ceremony.shares)


def test_commitments_verify_only_for_their_trustee_and_election(ceremony: Ceremony) -> None:
    message = ceremony.commitments[2]
    verify_commitments(CONTEXT, 2, message, THRESHOLD)
    with pytest.raises(CeremonyError, match="Trustee 3's proof of possession") as e:
        verify_commitments(CONTEXT, 3, message, THRESHOLD)  # copied by trustee 3
    assert e.value.dealer == 3
    for other in OTHER_CONTEXTS:
        with pytest.raises(CeremonyError):
            verify_commitments(other, 2, message, THRESHOLD)
    with pytest.raises(CeremonyError, match="3 coefficients, but the threshold is 2"):
        verify_commitments(CONTEXT, 2, message, 2)


def test_a_bad_proof_of_possession_names_its_trustee(ceremony: Ceremony) -> None:
    message = ceremony.commitments[4]
    bad = SchnorrProof(message.proofs[1].challenge, (message.proofs[1].response + 1) % ORDER)
    tampered = dataclasses.replace(message, proofs=(message.proofs[0], bad, message.proofs[2]))
    with pytest.raises(CeremonyError, match="coefficient 1 does not verify") as e:
        verify_commitments(CONTEXT, 4, tampered, THRESHOLD)
    assert e.value.dealer == 4
    swapped = dataclasses.replace(
        message, commitments=(message.commitments[0] + G, *message.commitments[1:])
    )
    with pytest.raises(CeremonyError, match="coefficient 0"):
        verify_commitments(CONTEXT, 4, swapped, THRESHOLD)
    key_proof = dataclasses.replace(message, share_key_proof=message.proofs[0])
    with pytest.raises(CeremonyError, match="share-encryption key does not verify"):
        verify_commitments(CONTEXT, 4, key_proof, THRESHOLD)
    with pytest.raises(CeremonyError, match="identity"):
        verify_commitments(CONTEXT, 4, dataclasses.replace(message, share_key=IDENTITY), THRESHOLD)
    with pytest.raises(CeremonyError) as e:
        receive_shares(
            CONTEXT, ceremony.secrets[1], {**ceremony.commitments, 4: tampered}, ceremony.shares
        )
    assert e.value.dealer == 4


def test_a_trustee_with_another_threshold_is_named(ceremony: Ceremony) -> None:
    _, odd = start_ceremony(CONTEXT, 5, THRESHOLD + 1)
    with pytest.raises(CeremonyError) as e:
        election_public_key({**ceremony.commitments, 5: odd})
    assert e.value.dealer == 5
    with pytest.raises(CeremonyError):
        election_public_key({})


def test_deal_refuses_identity_share_keys(ceremony: Ceremony) -> None:
    with pytest.raises(CeremonyError, match="Trustee 2's share-encryption key") as e:
        deal_shares(CONTEXT, ceremony.secrets[1], {2: IDENTITY})
    assert e.value.dealer == 2


@pytest.mark.parametrize(("index", "threshold"), [(0, 1), (256, 1), (1, 0), (1, 256)])
def test_indices_and_thresholds_are_bounded(index: int, threshold: int) -> None:
    with pytest.raises(CeremonyError):
        start_ceremony(CONTEXT, index, threshold)


@CRYPTO
@given(st.integers(1, 4), st.integers(1, 6))
def test_ceremonies_of_any_size(threshold: int, extra: int) -> None:
    trustees = threshold + extra - 1
    result = run_ceremony(CONTEXT, trustees, threshold)
    group = sorted(result.secret_shares)[-threshold:]
    secret = sum(lagrange_coefficient(i, group) * result.secret_shares[i] for i in group)
    assert base_mul(secret) == result.public_key


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x01",
        b"\x02\x01" + bytes(2 * 97),  # version 2
        b"\x01\x00" + bytes(97),  # threshold 0
        b"\x01\x01" + bytes(97),  # one entry short
        b"\x01\x01" + bytes(3 * 97),  # one entry too many
    ],
)
def test_malformed_commitments_are_refused(data: bytes) -> None:
    with pytest.raises(InvalidEncoding):
        CommitmentMessage.from_bytes(data)


def test_commitments_with_bad_points_or_scalars_are_refused(ceremony: Ceremony) -> None:
    data = ceremony.commitments[1].to_bytes()
    with pytest.raises(InvalidEncoding):
        CommitmentMessage.from_bytes(data[:2] + b"\x02" + bytes(32) + data[35:])
    with pytest.raises(InvalidEncoding, match="group order"):
        CommitmentMessage.from_bytes(data[:35] + ORDER.to_bytes(32, "big") + data[67:])


def test_malformed_shares_are_refused(ceremony: Ceremony) -> None:
    data = ceremony.shares[1].to_bytes()
    for bad in (b"", b"\x02" + data[1:], data[:-1], data + b"\x00", b"\x01\x05" + data[2:]):
        with pytest.raises(InvalidEncoding):
            SharesMessage.from_bytes(bad)
    with pytest.raises(InvalidEncoding):  # recipient 0
        SharesMessage.from_bytes(data[:2] + b"\x00" + data[3:])
    share = ceremony.shares[1].shares[0]
    with pytest.raises(InvalidEncoding, match="ascending"):
        SharesMessage((share, share))
    with pytest.raises(InvalidEncoding, match="ascending"):
        SharesMessage(tuple(reversed(ceremony.shares[1].shares)))
    assert isinstance(share, EncryptedShare)


def test_malformed_secrets_are_refused(ceremony: Ceremony) -> None:
    data = ceremony.secrets[1].to_bytes()
    for bad in (b"", b"\x02" + data[1:], data[:-1], data + b"\x00", data[:2] + b"\x00" + data[3:]):
        with pytest.raises(InvalidEncoding):
            TrusteeSecrets.from_bytes(bad)
    with pytest.raises(InvalidEncoding, match="group order"):
        TrusteeSecrets.from_bytes(data[:-32] + ORDER.to_bytes(32, "big"))
