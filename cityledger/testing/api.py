"""The city API under test: a deployed city with merchants and residents, the API served by
uvicorn in a thread, API keys, Sign-In with Ethereum, wallet-signed transactions, and a local
webhook receiver that verifies signatures with the merchant helper. Used by the API and e2e
suites and by the payments benchmark."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import uvicorn
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from sqlalchemy import Engine
from sqlmodel import Session
from web3.contract.contract import ContractFunction

from api.core import scopes as scope_names
from api.core.config import Settings
from api.core.scopes import PrincipalKind
from api.keys import KeyGrant, issue_key
from api.main import create_app
from api.migrations import upgrade as upgrade_api
from api.services import SERVICE_KEY_ENV
from api.webhooks.verify import SIGNATURE_HEADER, WebhookSignatureError, verify_signature
from cityledger.testing.city import TestCity
from cityledger.testing.processes import free_port
from ledger.config import LedgerSettings
from ledger.contracts.payments import PaymentRouter
from ledger.indexer.db import make_engine
from ledger.indexer.db import upgrade as upgrade_index
from ledger.indexer.runner import Indexer, RunStats
from ledger.payments.orders import parse_pay_uri
from ledger.types import AccountKind

DISTRICT = 5101
SECRET = "test-secret-" + "x" * 40
SIWE_DOMAIN = "pay.sejong.test"
SIWE_URI = "https://pay.sejong.test"
PREFIX = "/api/v1"
GAS = 1_000_000


@dataclass
class World:
    """A deployed city on the module's node, its index database, and who is who."""

    city: TestCity
    db_url: str
    engine: Engine
    merchant_a: LocalAccount
    merchant_b: LocalAccount
    resident_1: LocalAccount
    resident_2: LocalAccount
    spare: list[LocalAccount]

    @property
    def service(self) -> LocalAccount:
        return self.city.payment_operator

    def index(self) -> RunStats:
        with Indexer.for_manifest(self.engine, self.city.url, self.city.city.manifest) as indexer:
            return indexer.run_once()

    def settings(self, **overrides: Any) -> Settings:
        """The suites' API: webhooks off unless asked, limits far above what tests send."""
        values: dict[str, Any] = {
            "webhooks_enabled": False,
            "rate_limit_per_second": 1000.0,
            "rate_limit_burst": 5000,
            "siwe_nonces_per_minute": 60_000.0,
            "siwe_nonce_burst": 5000,
            "relay_wait": 30.0,
            "idempotency_wait": 60.0,
            **overrides,
        }
        return api_settings(self.city, self.db_url, **values)

    def key(
        self,
        merchant: LocalAccount | None = None,
        scopes: frozenset[str] | None = None,
        *,
        label: str = "test",
    ) -> str:
        return make_key(self.engine, merchant.address if merchant else None, scopes, label)


def api_settings(
    city: TestCity, db_url: str, *, rpc_url: str | None = None, **overrides: Any
) -> Settings:
    """The API's settings over ``city`` (its node, unless ``rpc_url``, and its deployment
    manifest) and the index database at ``db_url``: staging, the test secret and SIWE domain,
    webhooks allowed to local receivers; ``overrides`` are any other ``Settings`` fields."""
    ledger = LedgerSettings(
        db_url=db_url,
        rpc_url=rpc_url or city.url,
        network=city.manifest_path.stem,
        deployments_dir=city.manifest_path.parent,
    )
    values: dict[str, Any] = {
        "environment": "staging",
        "secret_key": SECRET,
        "ledger": ledger,
        "siwe_domain": SIWE_DOMAIN,
        "siwe_uri": SIWE_URI,
        "webhook_allow_private_hosts": True,
        **overrides,
    }
    return Settings(**values)


def make_key(
    engine: Engine, merchant: str | None, scopes: frozenset[str] | None, label: str = "test"
) -> str:
    """An API key stored as the CLI stores it: a merchant key, or (no merchant) a service key.
    The scopes are whatever the test asks for (the key policy is tested on its own)."""
    grant = KeyGrant(
        PrincipalKind.MERCHANT if merchant else PrincipalKind.SERVICE,
        merchant,
        label,
        scopes if scopes is not None else scope_names.MERCHANT_DEFAULT,
    )
    with Session(engine) as session:
        return issue_key(session, grant).key


def credential(label: str) -> bytes:
    return keccak(text=f"credential:{label}")


def build_world(city: TestCity, url: str) -> World:
    """Register two merchants and two residents (with ₩1,000,000 each), migrate the database."""
    registrar, treasury = city.registrar, city.treasury
    merchant_a, merchant_b, resident_1, resident_2, *spare = city.people
    registry, token = city.city.registry, city.city.token
    for account, kind in (
        (merchant_a, AccountKind.MERCHANT),
        (merchant_b, AccountKind.MERCHANT),
        (resident_1, AccountKind.RESIDENT),
        (resident_2, AccountKind.RESIDENT),
    ):
        registry.register(registrar, account.address, kind, DISTRICT, credential(account.address))
    for account in (resident_1, resident_2):
        token.mint(treasury, account.address, 1_000_000, f"dep-{uuid.uuid4().hex[:16]}")
    engine = make_engine(url)
    upgrade_index(engine)
    upgrade_api(url)
    return World(city, url, engine, merchant_a, merchant_b, resident_1, resident_2, spare)


@contextmanager
def service_key_env(account: LocalAccount) -> Iterator[None]:
    previous = os.environ.get(SERVICE_KEY_ENV)
    os.environ[SERVICE_KEY_ENV] = account.key.hex()
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(SERVICE_KEY_ENV, None)
        else:
            os.environ[SERVICE_KEY_ENV] = previous


@dataclass
class ApiServer:
    """The API on uvicorn in a thread of this process (real sockets, real concurrency)."""

    settings: Settings
    port: int = field(default_factory=free_port)
    server: uvicorn.Server | None = None
    thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ApiServer:
        config = uvicorn.Config(
            create_app(self.settings),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            limit_concurrency=None,
            backlog=512,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the API did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(30)

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url + PREFIX, headers=headers, timeout=60, **kwargs)


def sign_in(client: httpx.Client, account: LocalAccount) -> str:
    """Sign in with Ethereum: a nonce, the message signed by the account's key, a token."""
    nonce = client.post("/auth/nonce", json={"address": account.address})
    assert nonce.status_code == 201, nonce.text
    message = nonce.json()["message"]
    signature = Account.sign_message(encode_defunct(text=message), account.key).signature
    answer = client.post(
        "/auth/verify", json={"message": message, "signature": "0x" + signature.hex()}
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def signed(
    city: TestCity, account: LocalAccount, function: ContractFunction, nonce: int | None = None
) -> str:
    """The account signs a call in its own wallet (free gas); returns the raw hex."""
    w3 = city.city.chain.w3
    if nonce is None:
        nonce = w3.eth.get_transaction_count(account.address, "pending")
    params: dict[str, Any] = {
        "from": account.address,
        "nonce": nonce,
        "gas": GAS,
        "maxFeePerGas": 0,
        "maxPriorityFeePerGas": 0,
        "chainId": city.city.chain.chain_id,
    }
    tx: dict[str, Any] = dict(function.build_transaction(params))  # type: ignore[arg-type]
    return "0x" + bytes(account.sign_transaction(tx).raw_transaction).hex()


def pay_for_body(
    router: PaymentRouter, payer: LocalAccount, invoice: dict[str, Any], deadline: int
) -> dict[str, Any]:
    """``POST /relay/pay``'s body: the payer's Pay authorization and permit for ``invoice``
    (as the API returned it)."""
    order = parse_pay_uri(invoice["payment_uri"]).order
    permit = router.sign_permit(payer, order)
    return {
        "order": {
            "merchant": order.merchant,
            "amount": order.amount,
            "valid_until": order.valid_until,
            "salt": "0x" + order.salt.hex(),
        },
        "payer": payer.address,
        "deadline": deadline,
        "signature": "0x" + router.sign_pay(payer, order.ref, deadline).hex(),
        "permit": {
            "deadline": permit.deadline,
            "v": permit.v,
            "r": "0x" + permit.r.hex(),
            "s": "0x" + permit.s.hex(),
        },
    }


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    at: float
    verified: bool
    error: str | None
    status: int

    @property
    def event(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.body)
        return document


class WebhookReceiver:
    """A merchant's webhook endpoint: verifies every delivery with ``verify_signature``
    against ``secrets``; answers ``fail_with`` to the next ``failures`` requests."""

    def __init__(self) -> None:
        self.secrets: list[str] = []
        self.deliveries: list[Delivery] = []
        self.failures = 0
        self.fail_with = 500
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = dict(self.headers.items())
                with receiver.lock:
                    error = None
                    try:
                        verify_signature(body, headers.get(SIGNATURE_HEADER), receiver.secrets)
                    except (WebhookSignatureError, ValueError) as exc:
                        error = str(exc)
                    failing = receiver.failures > 0
                    if failing:
                        receiver.failures -= 1
                    status = receiver.fail_with if failing else (200 if error is None else 400)
                    receiver.deliveries.append(
                        Delivery(headers, body, time.time(), error is None, error, status)
                    )
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def events(self, kind: str | None = None) -> list[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if kind is None or d.event["type"] == kind]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s")
        time.sleep(interval)


@dataclass
class Trade:
    """One merchant's paid, partly refunded invoice and a redemption request, for the
    ownership matrix."""

    merchant: LocalAccount
    payer: LocalAccount
    key: str
    invoice_ref: str
    open_ref: str
    redemption_id: int
    webhook_id: str


def trade(world: World, api: ApiServer, merchant: LocalAccount, payer: LocalAccount) -> Trade:
    """Through the API where a merchant would (invoices, webhooks), on chain with the ledger
    wrappers where a wallet would (pay, refund, redeem); then indexed."""
    from ledger.payments.orders import parse_pay_uri

    router = world.city.city.payments
    key = world.key(merchant)
    world.index()
    with api.client(key) as shop:
        paid = shop.post("/invoices", json={"amount": 8_000})
        assert paid.status_code == 201, paid.text
        still_open = shop.post("/invoices", json={"amount": 3_000}).json()
        hook = shop.post("/webhooks", json={"url": "https://hooks.example.com/x"})
        assert hook.status_code == 201, hook.text
    order = parse_pay_uri(paid.json()["payment_uri"]).order
    router.pay(payer, order)
    router.refund(merchant, order.ref, 1_000)
    redemption_id = router.request_redemption(merchant, 500)
    world.index()
    return Trade(
        merchant,
        payer,
        key,
        paid.json()["ref"],
        still_open["ref"],
        redemption_id,
        hook.json()["id"],
    )
