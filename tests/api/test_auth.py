"""Who may call: Sign-In with Ethereum (single-use nonces, expiry, chain id, domain, signature),
access tokens, and API keys (unknown, revoked, missing scope) — and the CLI that makes keys."""

from __future__ import annotations

import json
import time
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from typer.testing import CliRunner

from api.core import scopes
from cityledger.cli import app as cli
from cityledger.testing.api import SECRET, SIWE_DOMAIN, SIWE_URI, ApiServer, World, auth, sign_in

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import siwe  # type: ignore[import-untyped]

runner = CliRunner()


def _message(nonce: str, account: LocalAccount, **overrides: Any) -> str:
    now = datetime.now(UTC)
    fields: dict[str, Any] = {
        "domain": SIWE_DOMAIN,
        "address": account.address,
        "statement": "Sign in to CityLedger.",
        "uri": SIWE_URI,
        "version": "1",
        "chain_id": 44051,
        "nonce": nonce,
        "issued_at": siwe.ISO8601Datetime.from_datetime(now),
        "expiration_time": siwe.ISO8601Datetime.from_datetime(now + timedelta(minutes=5)),
    }
    fields.update(overrides)
    return str(siwe.SiweMessage(**fields).prepare_message())


def _signature(message: str, account: LocalAccount) -> str:
    signed = Account.sign_message(encode_defunct(text=message), account.key)
    return "0x" + bytes(signed.signature).hex()


def _verify(client: httpx.Client, message: str, signer: LocalAccount) -> httpx.Response:
    return client.post(
        "/auth/verify", json={"message": message, "signature": _signature(message, signer)}
    )


def _nonce(client: httpx.Client, address: str | None = None) -> str:
    answer = client.post("/auth/nonce", json={"address": address} if address else {})
    assert answer.status_code == 201, answer.text
    nonce: str = answer.json()["nonce"]
    return nonce


def test_sign_in_gives_a_token_for_the_signer_only(world: World, api: ApiServer) -> None:
    resident = world.resident_1
    with api.client() as client:
        token = sign_in(client, resident)
        claims = jwt.decode(token, SECRET, algorithms=["HS256"], audience="cityledger-api")
        assert claims["sub"] == resident.address
        assert claims["exp"] - claims["iat"] == 900
        me = client.get(f"/accounts/{resident.address}", headers=auth(token))
        assert me.status_code == 200, me.text


def test_nonce_is_single_use(world: World, api: ApiServer) -> None:
    with api.client() as client:
        message = _message(_nonce(client), world.resident_1)
        assert _verify(client, message, world.resident_1).status_code == 200
        again = _verify(client, message, world.resident_1)
        assert again.status_code == 401
        assert again.json()["code"] == "siwe_nonce_used"
        assert "WWW-Authenticate" in again.headers


def test_unknown_nonce_and_nonce_of_another_address(world: World, api: ApiServer) -> None:
    with api.client() as client:
        unknown = _verify(client, _message("NeverIssued123", world.resident_1), world.resident_1)
        assert (unknown.status_code, unknown.json()["code"]) == (401, "siwe_nonce_unknown")
        theirs = _nonce(client, world.resident_2.address)
        stolen = _verify(client, _message(theirs, world.resident_1), world.resident_1)
        assert stolen.status_code == 401
        # ... and the refusal did not spend it: its owner still signs in with it.
        assert _verify(client, _message(theirs, world.resident_2), world.resident_2).is_success


def test_expired_nonce_and_expired_message(world: World, serve: Any) -> None:
    api = serve(siwe_nonce_ttl=1)
    with api.client() as client:
        nonce = _nonce(client)
        time.sleep(1.2)
        message = _message(nonce, world.resident_1)
        late = _verify(client, message, world.resident_1)
        assert (late.status_code, late.json()["code"]) == (401, "siwe_nonce_expired")

        past = datetime.now(UTC) - timedelta(seconds=5)
        expired = _message(
            _nonce(client),
            world.resident_1,
            issued_at=siwe.ISO8601Datetime.from_datetime(past - timedelta(minutes=1)),
            expiration_time=siwe.ISO8601Datetime.from_datetime(past),
        )
        refused = _verify(client, expired, world.resident_1)
        assert (refused.status_code, refused.json()["code"]) == (401, "siwe_expired")


def test_wrong_chain_wrong_domain_bad_signature_garbage(world: World, api: ApiServer) -> None:
    resident, other = world.resident_1, world.resident_2
    with api.client() as client:
        cases = [
            (_message(_nonce(client), resident, chain_id=1), resident, "siwe_wrong_chain"),
            (
                _message(_nonce(client), resident, domain="evil.example"),
                resident,
                "siwe_wrong_domain",
            ),
            (_message(_nonce(client), resident), other, "siwe_bad_signature"),
        ]
        for message, signer, code in cases:
            answer = _verify(client, message, signer)
            assert (answer.status_code, answer.json()["code"]) == (401, code), answer.text
        garbage = client.post(
            "/auth/verify", json={"message": "hello", "signature": "0x" + "11" * 65}
        )
        assert (garbage.status_code, garbage.json()["code"]) == (422, "siwe_invalid_message")
        # A refused attempt does not spend the nonce: the right signer still gets in.
        nonce = _nonce(client)
        assert _verify(client, _message(nonce, resident), other).status_code == 401
        assert _verify(client, _message(nonce, resident), resident).status_code == 200


def test_uri_issued_at_and_unrecoverable_signatures_are_refused(
    world: World, api: ApiServer
) -> None:
    resident = world.resident_1
    now = datetime.now(UTC)
    with api.client() as client:
        wrong_uri = _message(_nonce(client), resident, uri="https://evil.example/")
        answer = _verify(client, wrong_uri, resident)
        assert (answer.status_code, answer.json()["code"]) == (401, "siwe_wrong_uri")
        ahead = _message(
            _nonce(client),
            resident,
            issued_at=siwe.ISO8601Datetime.from_datetime(now + timedelta(hours=1)),
            expiration_time=siwe.ISO8601Datetime.from_datetime(now + timedelta(hours=2)),
        )
        answer = _verify(client, ahead, resident)
        assert (answer.status_code, answer.json()["code"]) == (401, "siwe_not_yet_valid")
        stale = _message(
            _nonce(client),
            resident,
            issued_at=siwe.ISO8601Datetime.from_datetime(now - timedelta(days=30)),
        )
        answer = _verify(client, stale, resident)
        assert (answer.status_code, answer.json()["code"]) == (401, "siwe_expired")
        # r = s = 0 (a well-formed signature that recovers no key) was the API's one 500.
        message = _message(_nonce(client), resident)
        zero = client.post(
            "/auth/verify", json={"message": message, "signature": "0x" + "00" * 64 + "1b"}
        )
        assert (zero.status_code, zero.json()["code"]) == (401, "siwe_bad_signature")


def test_bad_tokens(world: World, serve: Any) -> None:
    api = serve(access_token_ttl=5)
    address = world.resident_1.address
    with api.client() as client:
        token = sign_in(client, world.resident_1)
        assert client.get(f"/accounts/{address}", headers=auth(token)).status_code == 200
        header, payload, signature = token.split(".")
        claims = json.loads(jwt.utils.base64url_decode(payload))
        forged_payload = jwt.utils.base64url_encode(
            json.dumps({**claims, "sub": world.resident_2.address}).encode()
        ).decode()
        for bad in (
            f"{header}.{forged_payload}.{signature}",
            jwt.encode({**claims, "sub": address}, "another-secret-" * 4, algorithm="HS256"),
            "not-a-token",
        ):
            answer = client.get(f"/accounts/{address}", headers=auth(bad))
            assert answer.status_code == 401, bad
            assert answer.json()["code"] == "unauthorized"
        missing = client.get(f"/accounts/{address}")
        assert missing.status_code == 401
        assert missing.headers["WWW-Authenticate"] == "Bearer"
        time.sleep(5.5)
        expired = client.get(f"/accounts/{address}", headers=auth(token))
        assert expired.status_code == 401
        assert "expired" in expired.json()["detail"]


def test_api_key_scopes(world: World, api: ApiServer) -> None:
    read_only = world.key(world.merchant_a, frozenset({scopes.INVOICES_READ}))
    auditor = world.key(None, frozenset({scopes.REPORTS_READ}))
    admin = world.key(None, frozenset({scopes.ADMIN}))
    world.index()
    with api.client() as client:
        denied = client.post("/invoices", json={"amount": 100}, headers=auth(read_only))
        assert (denied.status_code, denied.json()["code"]) == (403, "forbidden")
        assert "invoices:write" in denied.json()["detail"]
        assert client.get("/invoices", headers=auth(read_only)).status_code == 200

        report = client.get(
            "/reports/daily",
            params={"day": "2026-01-01", "merchant": world.merchant_a.address},
            headers=auth(auditor),
        )
        assert report.status_code == 200, report.text
        assert client.get("/invoices", headers=auth(auditor)).status_code == 403
        # A city service reads; it never creates in a merchant's name, admin or not.
        assert client.post("/invoices", json={"amount": 1}, headers=auth(admin)).status_code == 403
        listed = client.get(
            "/invoices", params={"merchant": world.merchant_a.address}, headers=auth(admin)
        )
        assert listed.status_code == 200

        resident = sign_in(client, world.resident_1)
        assert (
            client.post("/invoices", json={"amount": 1}, headers=auth(resident)).status_code == 403
        )
        unknown = client.get("/invoices", headers=auth("clk_" + "A" * 43))
        assert (unknown.status_code, unknown.json()["detail"]) == (401, "unknown API key")


def test_cli_creates_lists_and_revokes_keys(world: World, api: ApiServer) -> None:
    base = ["api-key"]
    db = ["--db-url", world.db_url]
    world.index()  # the key policy reads who is a merchant from the index
    created = runner.invoke(
        cli, [*base, "create", "--merchant", world.merchant_a.address, "--json", *db]
    )
    assert created.exit_code == 0, created.output
    document = json.loads(created.output)
    key, key_id = document["key"], document["id"]
    assert key.startswith("clk_")
    with api.client(key) as client:
        assert client.get("/invoices").status_code == 200
        listed = runner.invoke(cli, [*base, "list", "--json", *db])
        assert listed.exit_code == 0, listed.output
        rows = {row["id"]: row for row in json.loads(listed.output)}
        assert key not in listed.output  # never shown again
        assert rows[key_id]["address"] == world.merchant_a.address
        revoked = runner.invoke(cli, [*base, "revoke", key_id, *db])
        assert revoked.exit_code == 0, revoked.output
        refused = client.get("/invoices")
        assert (refused.status_code, refused.json()["detail"]) == (401, "this API key was revoked")

    bad = runner.invoke(cli, [*base, "create", "--service", "x", "--scopes", "invoices:write", *db])
    assert bad.exit_code == 1
    assert "cannot hold invoices:write" in bad.output
    bad = runner.invoke(cli, [*base, "create", "--merchant", "0x12", *db])
    assert bad.exit_code == 1
    assert "not an address" in bad.output
    bad = runner.invoke(cli, [*base, "create", "--service", "x", "--scopes", "wizard", *db])
    assert bad.exit_code == 1
    assert "unknown scope" in bad.output
    # A merchant key acts in a merchant's name: a resident's address gets none.
    resident = world.resident_1.address
    bad = runner.invoke(cli, [*base, "create", "--merchant", resident, *db])
    assert bad.exit_code == 1
    assert f"{resident} is not an active merchant" in bad.output
