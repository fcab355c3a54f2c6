"""The merchant's signature helper: what it accepts and every way it says no."""

from __future__ import annotations

import pytest

from api.webhooks.verify import (
    MalformedSignatureHeader,
    NoMatchingSignature,
    TimestampOutsideTolerance,
    sign,
    signature_header,
    verify_signature,
)

BODY = b'{"id":"evt_1","type":"payment.settled","data":{"amount":10000}}'
NOW = 1_800_000_000


def test_accepts_a_fresh_signature_and_returns_its_time() -> None:
    header = signature_header(BODY, ["whsec_a"], NOW)
    assert header == f"t={NOW},v1={sign(BODY, 'whsec_a', NOW)}"
    assert verify_signature(BODY, header, ["whsec_a"], now=NOW + 10) == NOW


def test_rotation_two_v1_values_either_secret_verifies() -> None:
    header = signature_header(BODY, ["whsec_new", "whsec_old"], NOW)
    assert header.count("v1=") == 2
    for secrets in (["whsec_new"], ["whsec_old"], ["whsec_other", "whsec_old"]):
        assert verify_signature(BODY, header, secrets, now=NOW) == NOW


@pytest.mark.parametrize(
    ("body", "secrets"),
    [
        (BODY + b" ", ["whsec_a"]),
        (BODY.replace(b"10000", b"90000"), ["whsec_a"]),
        (BODY, ["whsec_b"]),
    ],
)
def test_refuses_a_changed_body_or_another_secret(body: bytes, secrets: list[str]) -> None:
    header = signature_header(BODY, ["whsec_a"], NOW)
    with pytest.raises(NoMatchingSignature, match="no signature matches"):
        verify_signature(body, header, secrets, now=NOW)


@pytest.mark.parametrize("offset", [-301, 301, -10_000])
def test_refuses_old_and_future_timestamps(offset: int) -> None:
    header = signature_header(BODY, ["whsec_a"], NOW + offset)
    with pytest.raises(TimestampOutsideTolerance, match="tolerance 300 s"):
        verify_signature(BODY, header, ["whsec_a"], now=NOW)
    assert verify_signature(BODY, header, ["whsec_a"], tolerance=20_000, now=NOW) == NOW + offset


def test_a_resigned_timestamp_does_not_verify() -> None:
    """Moving t forward (to slip past the tolerance) breaks the signature."""
    old = signature_header(BODY, ["whsec_a"], NOW - 3_600)
    replayed = old.replace(f"t={NOW - 3_600}", f"t={NOW}")
    with pytest.raises(NoMatchingSignature):
        verify_signature(BODY, replayed, ["whsec_a"], now=NOW)


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (None, "no CityLedger-Signature header"),
        ("", "no CityLedger-Signature header"),
        ("v1=abc", "no t= timestamp"),
        (f"t={NOW}", "no v1= signature"),
        ("t=soon,v1=abc", "exactly one integer t="),
        (f"t={NOW},t={NOW},v1=abc", "exactly one integer t="),
        ("garbage", "is not name=value"),
    ],
)
def test_malformed_headers(header: str | None, reason: str) -> None:
    with pytest.raises(MalformedSignatureHeader, match=reason):
        verify_signature(BODY, header, ["whsec_a"], now=NOW)


def test_needs_a_secret() -> None:
    with pytest.raises(ValueError, match="at least one endpoint secret"):
        verify_signature(BODY, signature_header(BODY, ["s"], NOW), [], now=NOW)


def test_unknown_schemes_are_ignored() -> None:
    header = signature_header(BODY, ["whsec_a"], NOW) + ",v0=deadbeef"
    assert verify_signature(BODY, header, ["whsec_a"], now=NOW) == NOW
