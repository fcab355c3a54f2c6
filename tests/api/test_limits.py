"""Request hygiene: body size limit (413, by Content-Length and while streaming), the
per-principal/IP token bucket (429 with Retry-After), and one JSON error shape for every
refusal (unknown routes, bad JSON, bad ids, chain errors)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator

import httpx
from sqlmodel import Session, func, select

from api.models import SiweNonce
from cityledger.testing.api import ApiServer, World, auth, sign_in


def test_body_size_limit(world: World, serve: Callable[..., ApiServer]) -> None:
    api = serve(max_body_bytes=2_048)
    world.index()
    with api.client(world.key(world.merchant_a)) as shop:
        small = shop.post("/invoices", json={"amount": 5, "description": "x" * 100})
        assert small.status_code == 201, small.text
        big = shop.post("/invoices", json={"amount": 5, "description": "x" * 5_000})
        assert big.status_code == 413
        assert big.json() == {
            "code": "payload_too_large",
            "detail": "the request body is larger than 2,048 bytes",
        }

        def chunks() -> Iterator[bytes]:
            yield b'{"amount": 5, "description": "'
            for _ in range(10):
                yield b"y" * 500
            yield b'"}'

        streamed = shop.post(
            "/invoices", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert "content-length" not in {k.lower() for k in streamed.request.headers}
        assert streamed.status_code == 413, streamed.text
        assert streamed.json()["code"] == "payload_too_large"


def test_rate_limit_per_principal_and_ip(world: World, serve: Callable[..., ApiServer]) -> None:
    api = serve(rate_limit_per_second=0.01, rate_limit_burst=5)  # a token every 100 s
    first, second = world.key(world.merchant_a), world.key(world.merchant_b)
    with api.client(first) as one, api.client(second) as two, api.client() as anonymous:
        answers = [one.get("/invoices") for _ in range(6)]
        assert [a.status_code for a in answers] == [200] * 5 + [429]
        limited = answers[-1]
        assert limited.json()["code"] == "rate_limited"
        assert int(limited.headers["Retry-After"]) >= 1
        assert two.get("/invoices").status_code == 200  # its own bucket
        assert all(anonymous.get(f"{api.url}/health").is_success for _ in range(8))
        # Without credentials the client's IP address has a bucket of its own.
        statuses = [anonymous.get("/chain/status").status_code for _ in range(6)]
        assert statuses == [200] * 5 + [429]
    # A resident's bucket follows the address, not the token: signing in again does not
    # refill it.
    api = serve(rate_limit_per_second=0.01, rate_limit_burst=6)
    address = world.resident_1.address
    with api.client() as anonymous:
        tokens = [sign_in(anonymous, world.resident_1) for _ in range(2)]  # 4 IP requests
        statuses = []
        for token in tokens:
            with api.client(token) as wallet:
                statuses += [wallet.get(f"/accounts/{address}").status_code for _ in range(4)]
        assert statuses == [200] * 6 + [429] * 2


def test_invented_api_keys_get_no_bucket_of_their_own(
    world: World, serve: Callable[..., ApiServer]
) -> None:
    """300 parallel nonce requests, each with a random `clk_` key, all passed (each storing a
    nonce) where 167 of 300 were limited without them: a key counts only once it is found."""
    api = serve(rate_limit_per_second=0.01, rate_limit_burst=5)
    before = _stored_nonces(world)
    with api.client() as anonymous:
        statuses = [
            anonymous.post(
                "/auth/nonce", json={}, headers=auth(f"clk_{secrets.token_urlsafe(32)}")
            ).status_code
            for _ in range(8)
        ]
        assert statuses == [201] * 5 + [429] * 3
        # A stored key is found before any route, and has its own bucket.
        with api.client(world.key(world.merchant_a)) as shop:
            assert shop.get("/invoices").status_code == 200
    assert _stored_nonces(world) == before + 5


def _stored_nonces(world: World) -> int:
    with Session(world.engine) as session:
        return session.exec(select(func.count()).select_from(SiweNonce)).one()


def test_nonces_are_limited_per_client_ip(world: World, serve: Callable[..., ApiServer]) -> None:
    api = serve(siwe_nonces_per_minute=2.0, siwe_nonce_burst=3)
    with api.client() as anonymous:
        answers = [anonymous.post("/auth/nonce", json={}) for _ in range(5)]
    assert [a.status_code for a in answers] == [201] * 3 + [429] * 2
    assert answers[-1].json()["code"] == "rate_limited"
    assert int(answers[-1].headers["Retry-After"]) >= 1


def test_errors_have_one_shape(world: World, api: ApiServer) -> None:
    with api.client(world.key(world.merchant_a)) as shop:
        cases = {
            "unknown route": shop.get("/nowhere"),
            "bad json": shop.post(
                "/invoices", content=b"{not json", headers={"Content-Type": "application/json"}
            ),
            "bad field": shop.post("/invoices", json={"amount": -1}),
            "bad ref": shop.get("/invoices/0x1234"),
            "bad cursor": shop.get("/invoices", params={"cursor": "garbage"}),
            "bad raw tx": shop.post("/relay/transactions", json={"raw_transaction": "0x1234"}),
            "method": shop.put("/invoices"),
        }
    expected = {
        "unknown route": 404,
        "bad json": 422,
        "bad field": 422,
        "bad ref": 422,
        "bad cursor": 422,
        "bad raw tx": 422,
        "method": 405,
    }
    for name, answer in cases.items():
        assert answer.status_code == expected[name], (name, answer.text)
        body = answer.json()
        assert set(body) <= {"code", "detail", "errors", "error_args"}, (name, body)
        assert body["code"], (name, body)
        assert body["detail"], (name, body)
    assert cases["bad field"].json()["errors"][0]["loc"] == ["body", "amount"]
    # GET /invoices and POST /invoices are two routes: Allow names both.
    assert cases["method"].headers["Allow"] == "GET, HEAD, POST"
    assert cases["bad raw tx"].json()["code"] == "relay_refused"


def test_chain_unreachable_is_502_not_500(world: World, serve: Callable[..., ApiServer]) -> None:
    from cityledger.testing.processes import free_port

    api = serve(rpc_url=f"http://127.0.0.1:{free_port()}")
    world.index()
    with api.client(world.key(world.merchant_a)) as shop:
        status = shop.get("/chain/status")
        assert status.status_code == 200
        assert status.json()["reachable"] is False
        assert status.json()["indexed_block"] is not None
        invoice = shop.post("/invoices", json={"amount": 10})  # needs no chain
        assert invoice.status_code == 201, invoice.text
        cancel = shop.post(f"/invoices/{invoice.json()['ref']}/cancel")
        assert cancel.status_code == 502, cancel.text
        assert cancel.json()["code"] == "chain_unavailable"
        assert "cannot reach the chain node" in cancel.json()["detail"]


def test_money_is_strictly_whole_won(world: World, api: ApiServer) -> None:
    """`{"amount": true}` made a ₩1 invoice: an amount is a JSON integer, nothing else."""
    world.index()
    with api.client(world.key(world.merchant_a)) as shop:
        for amount in (True, 1.0, "5", 1.5):
            answer = shop.post("/invoices", json={"amount": amount})
            assert answer.status_code == 422, (amount, answer.text)
            assert answer.json()["errors"][0]["loc"] == ["body", "amount"]
        assert shop.post("/invoices", json={"amount": 1}).status_code == 201


def test_openapi_publishes_integer_bounds_and_address_patterns(api: ApiServer) -> None:
    spec = httpx.get(f"{api.url}/openapi.json", timeout=30).json()
    floats: list[str] = []

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            if node.get("type") == "integer":
                for bound in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
                    if isinstance(node.get(bound), float):
                        floats.append(f"{where}.{bound}")
            for key, child in node.items():
                walk(child, f"{where}.{key}")
        elif isinstance(node, list):
            for i, child in enumerate(node):
                walk(child, f"{where}[{i}]")

    walk(spec, "$")
    assert not floats
    amount = spec["components"]["schemas"]["InvoiceCreate"]["properties"]["amount"]
    assert amount["maximum"] == 10**15
    unpatterned = [
        f"{method} {path} {parameter['name']}"
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        for parameter in operation.get("parameters", [])
        if parameter["name"] in ("address", "merchant", "payer", "voter")
        and "pattern" not in json.dumps(parameter["schema"])
    ]
    assert not unpatterned
