"""The issue's acceptance run, every part real: the embedded node with the city's contracts, the
indexer following the chain in a thread, the API on uvicorn with its webhook worker, a
merchant's webhook receiver that verifies signatures, and the `wallet` command a resident runs.

A merchant creates a ₩10,000 invoice over the API; the resident pays it with `wallet pay <id>`;
the merchant's receiver gets a correctly signed `payment.settled` with 9,900 / 100; a refund
reverses half of it (`payment.refunded`), a redemption is confirmed by the treasury
(`settlement.confirmed`), and the day's settlement report adds up with the chain.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from eth_account.signers.local import LocalAccount

from cityledger.testing.api import ApiServer, WebhookReceiver, World, build_world, service_key_env
from cityledger.testing.api import wait_for as _wait_for
from cityledger.testing.city import TestCity
from cityledger.testing.processes import ROOT
from ledger.indexer.reconcile import reconcile
from ledger.indexer.runner import Indexer, manifest_contracts
from tests.wallet.helpers import CLEAN_ENV, PASSWORD, Wallet

FAST_WEBHOOKS = {
    "webhooks_enabled": True,
    "webhook_poll_interval": 0.1,
    "webhook_backoff_base": 0.5,
    "webhook_backoff_jitter": 0.0,
}


@pytest.fixture(scope="module")
def world(test_city: TestCity, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    db = tmp_path_factory.mktemp("e2e-db") / "index.sqlite3"
    built = build_world(test_city, f"sqlite:///{db}")
    with service_key_env(test_city.payment_operator):
        yield built
    built.engine.dispose()


@pytest.fixture(scope="module")
def following(world: World) -> Iterator[Indexer]:
    """The indexer as `cityledger index --follow` runs it, in a thread of the test process."""
    stop = threading.Event()
    indexer = Indexer.for_manifest(world.engine, world.city.url, world.city.city.manifest)
    thread = threading.Thread(target=indexer.follow, args=(stop, 0.1), daemon=True)
    thread.start()
    yield indexer
    stop.set()
    thread.join(30)
    indexer.close()


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    hooks = WebhookReceiver()
    yield hooks
    hooks.stop()


@pytest.fixture(scope="module")
def api(world: World, following: Indexer, receiver: WebhookReceiver) -> Iterator[ApiServer]:
    """Needs the receiver so that it stops after the API: with the receiver gone first, the
    API's webhook worker would log failed deliveries during teardown."""
    server = ApiServer(world.settings(**FAST_WEBHOOKS)).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def wallet(world: World, tmp_path_factory: pytest.TempPathFactory) -> Wallet:
    root = tmp_path_factory.mktemp("e2e-wallet")
    made = Wallet(world.city, root / "keys", root / "home")
    for alias, account in (("resident", world.resident_1), ("shop", world.merchant_a)):
        _import(made, alias, account, root)
    return made


def _import(wallet: Wallet, alias: str, account: LocalAccount, root: Path) -> None:
    key_file = root / f"{alias}.key"
    key_file.write_text(account.key.to_0x_hex())
    wallet.ok("import", alias, "--private-key-file", str(key_file), "--scrypt-n", "16")


def _run_wallet(wallet: Wallet, command: str, *args: str) -> dict[str, Any]:
    """`wallet <command> … --json` in its own process, as the resident or merchant runs it."""
    env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
    env |= {"HOME": str(wallet.home), "CITYLEDGER_PASSWORD": PASSWORD}
    done = subprocess.run(
        [sys.executable, "-m", "wallet_cli", command, *wallet.options, *args, "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def _one(receiver: WebhookReceiver, kind: str) -> dict[str, Any]:
    (delivery,) = _wait_for(lambda: receiver.events(kind), timeout=30)
    assert delivery.verified, delivery.error
    assert delivery.headers["CityLedger-Event-Id"] == delivery.event["id"]
    data: dict[str, Any] = delivery.event["data"]
    return data


def test_invoice_wallet_pay_webhook_refund_redeem_report(
    world: World, api: ApiServer, receiver: WebhookReceiver, wallet: Wallet
) -> None:
    city = world.city
    token, router = city.city.token, city.city.payments
    merchant, resident = world.merchant_a, world.resident_1
    start = (token.balance_of(resident.address), token.balance_of(merchant.address))
    key = world.key(merchant)

    with api.client(key) as shop:
        hook = shop.post("/webhooks", json={"url": receiver.url})
        assert hook.status_code == 201, hook.text
        receiver.secrets = [hook.json()["secret"]]
        created = shop.post(
            "/invoices",
            json={"amount": 10_000, "description": "lunch set"},
            headers={"Idempotency-Key": "pos-7-order-1"},
        )
        assert created.status_code == 201, created.text
        invoice = created.json()
        replayed = shop.post(
            "/invoices",
            json={"amount": 10_000, "description": "lunch set"},
            headers={"Idempotency-Key": "pos-7-order-1"},
        )
        assert replayed.json()["ref"] == invoice["ref"]  # the till retried: still one invoice

    # The resident pays the invoice by its id; the wallet fetches it from the public route.
    paid = _run_wallet(
        wallet, "pay", "resident", invoice["ref"], "--api-url", f"{api.url}/api/v1", "--yes"
    )
    assert (paid["merchant_amount"], paid["points"]) == (9_900, 100)

    settled = _one(receiver, "payment.settled")
    assert settled["ref"] == invoice["ref"]
    assert (settled["amount"], settled["merchant_amount"], settled["fee"], settled["points"]) == (
        10_000,
        9_900,
        100,
        100,
    )
    assert (settled["payer"], settled["merchant"]) == (resident.address, merchant.address)
    assert token.balance_of(resident.address) == start[0] - 9_900
    assert token.balance_of(merchant.address) == start[1] + 9_900

    half = _run_wallet(wallet, "refund", "shop", invoice["ref"], "5,000", "--yes")
    refunded = _one(receiver, "payment.refunded")
    assert (refunded["amount"], refunded["from_merchant"], refunded["points_clawed_back"]) == (
        5_000,
        4_950,
        50,
    )
    assert refunded["tx_hash"] == half["tx_hash"]
    assert _run_wallet(wallet, "points", "resident")["points"] == 50

    requested = _run_wallet(wallet, "redeem", "shop", "4,000", "--yes")
    router.confirm_redemption(city.treasury, requested["redemption_id"], "BANK-E2E-0001")
    confirmed = _one(receiver, "settlement.confirmed")
    assert (confirmed["redemption_id"], confirmed["amount"]) == (requested["redemption_id"], 4_000)

    with api.client(key) as shop:
        state = _wait_for(
            lambda: (s := shop.get(f"/invoices/{invoice['ref']}").json())["status"] == "paid" and s
        )
        assert state["payer"] == resident.address
        day = datetime.fromtimestamp(settled["timestamp"], ZoneInfo("Asia/Seoul")).date()
        report = shop.get("/reports/daily", params={"day": day.isoformat()}).json()
    assert (report["gross"], report["received"], report["refunded"]) == (10_000, 9_900, 5_000)
    assert report["refunded_by_merchant"] == 4_950
    assert report["net"] == 9_900 - 4_950
    assert report["saving_vs_card"] == 9_900 - 9_750
    assert report["redemptions_confirmed"] == 4_000
    # What the report says the merchant holds from today equals what the chain moved.
    assert (
        token.balance_of(merchant.address)
        == start[1] + report["net"] - report["redemptions_confirmed"]
    )

    assert all(d.verified for d in receiver.events())
    assert len({d.event["id"] for d in receiver.events()}) == len(receiver.events())
    world.index()
    contracts = manifest_contracts(city.city.manifest)
    assert reconcile(world.engine, city.url, contracts).differences == []
