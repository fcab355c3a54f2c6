"""Webhooks cannot be aimed at the city's own network (SSRF): every spelling of a loopback,
private or link-local address is refused at registration, an endpoint that points there
anyway (stored while private hosts were allowed, or a name that now resolves there) gets no
connection at delivery time, and the delivery log tells a merchant no more than a coarse
reason (no status or connect error of what sits behind the API). Real local listeners on
127.0.0.1 count every connection made to them: they must see none."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlmodel import Session, col, select

from api.models import WebhookOutbox
from cityledger.testing.api import ApiServer, WebhookReceiver, World, wait_for
from cityledger.testing.processes import free_port
from ledger.payments.orders import parse_pay_uri
from tests.api.webhook_support import Listener

NOT_ALLOWED = "destination not allowed: the host is not a public address"
COULD_NOT_CONNECT = "could not connect"
"""What the delivery log may say (docs/webhooks.md), nothing more."""

FAST = {
    "webhooks_enabled": True,
    "webhook_poll_interval": 0.1,
    "webhook_backoff_base": 60.0,  # one attempt per row is enough here
    "webhook_timeout": 5.0,
}


def loopback_hosts() -> list[str]:
    """127.0.0.1 (and 0.0.0.0, which reaches it on Linux) as a URL may spell it."""
    return [
        "2130706433",  # one decimal number
        "0x7f000001",  # one hex number
        "0x7F.0.0.1",
        "017700000001",  # octal
        "0177.1",
        "127.1",  # the last part fills the remaining bytes
        "127.0.1",
        "0",  # 0.0.0.0
        "0.0.0.0",
        "127.0.0.1.",  # a trailing dot
        "127.0.0.1",
        "localhost",
        "localhost.",
        "LOCALHOST",
        "[::1]",
        "[::ffff:127.0.0.1]",  # IPv4-mapped
        "[::ffff:7f00:1]",
        "[64:ff9b::7f00:1]",  # NAT64 of 127.0.0.1
    ]


PRIVATE_URLS = [
    "http://2852039166/latest/meta-data/",  # 169.254.169.254, the cloud metadata service
    "http://0xa9fea9fe/latest/meta-data/",
    "http://169.254.169.254./latest/meta-data/",
    "http://10.1.2.3/hooks",
    "http://0x0a010203/hooks",
    "http://167772161/hooks",  # 10.0.0.1
    "http://192.168.0.1/hooks",
    "http://172.16.0.1/hooks",
    "http://100.64.0.1/hooks",  # shared address space (carrier-grade NAT)
    "http://224.0.0.1/hooks",  # multicast
    "http://[fe80::1]/hooks",
    "http://[fc00::1]/hooks",
    "http://[2002:7f00:1::]/hooks",  # 6to4 of 127.0.0.1
    "http://db.internal/hooks",
    "http://printer.local/hooks",
    "http://no-such-host.invalid/hooks",  # does not resolve: refused the same way
    "http://1.2.3.4.5/hooks",  # not an address, yet ends in a number
    "http://1.2.3.09/hooks",
    "http://0177.0.0.01/hooks",  # inet_aton reads 127.0.0.1; the URL parser refuses it
]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    hooks = WebhookReceiver()
    yield hooks
    hooks.stop()


@pytest.fixture
def listeners() -> Iterator[list[Listener]]:
    started = [Listener() for _ in range(2)]
    yield started
    for listener in started:
        listener.stop()


def _endpoint(answer: Any) -> dict[str, Any]:
    assert answer.status_code == 201, answer.text
    endpoint: dict[str, Any] = answer.json()
    return endpoint


def test_registration_refuses_every_spelling_of_a_private_host(
    world: World, serve: Callable[..., ApiServer], listeners: list[Listener]
) -> None:
    api = serve(webhook_allow_private_hosts=False)
    port = listeners[0].port
    urls = [f"http://{host}:{port}/hooks" for host in loopback_hosts()] + PRIVATE_URLS
    with api.client(world.key(world.merchant_a)) as shop:
        for url in urls:
            answer = shop.post("/webhooks", json={"url": url})
            assert answer.status_code == 422, (url, answer.text)
            assert answer.json()["code"] == "invalid_webhook_url", url
        # A public address is fine (not contacted at registration; removed before any event).
        public = _endpoint(shop.post("/webhooks", json={"url": "https://93.184.215.14/hooks"}))
        assert shop.delete(f"/webhooks/{public['id']}").status_code == 204
    assert [listener.connections for listener in listeners] == [0, 0]


def _outboxes(world: World, endpoint_ids: list[str]) -> list[WebhookOutbox]:
    wanted = [uuid.UUID(e) for e in endpoint_ids]
    with Session(world.engine) as session:
        return list(
            session.exec(select(WebhookOutbox).where(col(WebhookOutbox.endpoint_id).in_(wanted)))
        )


def _pay(world: World, api: ApiServer, key: str) -> None:
    with api.client(key) as shop:
        invoice = shop.post("/invoices", json={"amount": 1_234})
    assert invoice.status_code == 201, invoice.text
    order = parse_pay_uri(invoice.json()["payment_uri"]).order
    world.city.city.payments.pay(world.resident_1, order)
    world.index()


def test_delivery_never_connects_to_a_private_address(
    world: World, serve: Callable[..., ApiServer], listeners: list[Listener]
) -> None:
    """Endpoints stored while private hosts were allowed, then the worker runs without that
    allowance: the check at connection time refuses each of them, including a name
    (``localhost``) that the worker resolves itself, and no listener sees a connection."""
    world.index()
    key = world.key(world.merchant_b)
    lenient = serve()  # the suite's default: private hosts allowed, no worker
    ids: list[str] = []
    with lenient.client(key) as shop:
        for index, host in enumerate(loopback_hosts()):
            port = listeners[index % 2].port
            url = f"http://{host}:{port}/hooks"
            body = {"url": url, "event_types": ["payment.settled"]}
            ids.append(_endpoint(shop.post("/webhooks", json=body))["id"])
    strict = serve(**FAST, webhook_allow_private_hosts=False)
    _pay(world, strict, key)

    rows = wait_for(
        lambda: (rows := _outboxes(world, ids)) and all(r.attempts >= 1 for r in rows) and rows,
        timeout=30,
    )
    assert len(rows) == len(ids)
    assert [listener.connections for listener in listeners] == [0, 0]
    with strict.client(key) as shop:
        for endpoint_id in ids:
            (attempt,) = shop.get(f"/webhooks/{endpoint_id}/deliveries").json()["items"]
            assert attempt["status_code"] is None
            assert attempt["error"] == NOT_ALLOWED


def test_the_delivery_log_says_no_more_than_a_coarse_reason(
    world: World, serve: Callable[..., ApiServer], receiver: WebhookReceiver
) -> None:
    """Where private hosts are allowed (development), a closed port is "could not connect",
    without the system's error text; a name is still sent its own ``Host``."""
    world.index()
    api = serve(**FAST)
    key = world.key(world.merchant_a)
    closed = f"http://127.0.0.1:{free_port()}/hooks"
    named = receiver.url.replace("127.0.0.1", "localhost")
    with api.client(key) as shop:
        refused = _endpoint(
            shop.post("/webhooks", json={"url": closed, "event_types": ["payment.settled"]})
        )
        reached = _endpoint(
            shop.post("/webhooks", json={"url": named, "event_types": ["payment.settled"]})
        )
    receiver.secrets = [reached["secret"]]
    _pay(world, api, key)
    (delivery,) = wait_for(receiver.events, timeout=30)
    assert delivery.verified, delivery.error
    assert delivery.headers["Host"] == named.split("/")[2]
    with api.client(key) as shop:
        attempts = wait_for(
            lambda: shop.get(f"/webhooks/{refused['id']}/deliveries").json()["items"],
            timeout=30,
        )
    assert [(a["status_code"], a["error"]) for a in attempts] == [(None, COULD_NOT_CONNECT)]
