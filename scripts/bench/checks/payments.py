"""Merchant payments per second through the city API (webhooks on), next to the node's raw rate.

    python -m scripts.bench payments [--payments 600] [--threads 16] [--quick]
                                     [--json PATH] [--no-postgres] [--api-in-thread]

One fresh embedded node (block period 0.05 s), the city deployed, R residents and M merchants
registered, the residents funded and each with a large allowance to the PaymentRouter (so a
payment is one transaction and needs no permit). Amounts are the reference district's
(docs/workload.md): log-normal around a ₩15,000 median, ₩1,000-300,000. Then, in the same run:

1. Node, raw: N pre-signed ``PaymentRouter.pay`` transactions (resident → merchant) flooded
   over JSON-RPC batches (25 a request) from 8 threads; tx/s from the first send to the block
   holding the last one, and submit → block latency (new blocks are watched as they come).
   Then N pre-signed ``PaymentRouter.payFor`` transactions: what the API sends for a
   payment (the payment operator's account, each payer's EIP-712 Pay authorization), flooded
   from one thread to keep the operator's nonces in order. The targets compare with ``pay``;
   this row shows how much of the gap is the relayed form itself.
2. API path, webhooks on: the indexer follows the head in a thread (``Indexer.follow``); the
   API (``api.main.create_app`` on uvicorn, in a process of its own unless --api-in-thread)
   runs its webhook worker; each merchant registers an endpoint on a local receiver that
   verifies every signature (``api.webhooks.verify``). Then from T client threads, each
   payment: the merchant's POS creates the invoice (``POST /invoices``, API key), the resident's
   wallet signs the EIP-712 Pay authorization, and posts it to ``POST /relay/pay`` (Sign-In
   with Ethereum token), which answers once ``payFor`` is mined; the run ends when every
   ``payment.settled`` webhook has arrived. The indexer's lag (head - cursor, in blocks) is
   sampled meanwhile.
3. Indexer: the whole chain (both phases) indexed from scratch into a new SQLite file, and a
   new PostgreSQL database if the server binaries are installed; each reconciled with the
   chain.

Targets (the issue): paid invoices/s through the API >= 0.7x the node's raw tx/s; indexer
ingest >= 20x. Every POST carries an Idempotency-Key, as the docs ask of clients.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from sqlmodel import Session, select
from web3.contract.contract import ContractFunction

from api.core.config import Settings
from api.migrations import upgrade as upgrade_api
from api.models import WebhookOutbox
from api.services import SERVICE_KEY_ENV
from cityledger.testing.api import (
    PREFIX,
    ApiServer,
    WebhookReceiver,
    api_settings,
    make_key,
    service_key_env,
    sign_in,
)
from cityledger.testing.city import TestCity
from cityledger.testing.processes import free_port, rpc
from cityledger.testing.token_flood import send_and_wait
from cityledger.testing.web3tx import presign
from ledger.chain import FREE_GAS_CALL_LIMIT
from ledger.indexer.db import make_engine
from ledger.indexer.db import upgrade as upgrade_index
from ledger.indexer.load import read_cursor
from ledger.indexer.runner import Indexer
from ledger.logging import configure_logging
from ledger.payments.orders import Order
from ledger.types import AccountKind, reference
from scripts.bench._utils import BenchmarkError
from scripts.bench._utils.chain_plumbing import city_on_node, flood
from scripts.bench._utils.district import (
    CITY_PEAK_TPS,
    DISTRICT,
    LIFE_ZONE_PEAK_TPS,
    covers,
    payment_amount,
)
from scripts.bench._utils.indexing import catch_up, databases
from scripts.bench._utils.meters import CpuMeter, Spread, rate
from scripts.bench._utils.reporting import Report, notes, print_table, step

API_TARGET = 0.7
INDEX_TARGET = 20.0
BLOCK_PERIOD = 0.05
POLL_INTERVAL = 0.1
"""Seconds between the indexer's looks at the head, and between webhook worker ticks."""
FLOOD_THREADS = 8
PER_REQUEST = 25
PAYMENT_SIGMA = 0.8
"""The spread of the payment amounts' log-normal (see district.payment_amount)."""
ALLOWANCE = 10**15
SETUP_GAS = 500_000
WEBHOOK_TIMEOUT = 180.0
NO_LATENCY = Spread(None, None)


@dataclass(frozen=True)
class Purchase:
    resident: int
    merchant: int
    amount: int


@dataclass(frozen=True)
class Row:
    what: str
    count: int
    rate: float | None
    unit: str
    latency: Spread = NO_LATENCY
    latency_unit: str = "ms"
    ratio: float | None = None
    target: float | None = None
    note: str = ""
    cpu_ms: dict[str, float] | None = None
    """CPU milliseconds per payment, by process, during this phase."""

    @property
    def verdict(self) -> str:
        if self.target is None or self.ratio is None:
            return ""
        return "ok" if self.ratio >= self.target else "BELOW"


@dataclass
class Paid:
    """One payment through the API, wall-clock times (time.time(), as the receiver's)."""

    ref: str
    merchant: int
    amount: int
    created: float
    invoiced: float
    relay_started: float
    relayed: float
    queued: float | None = None
    """When the webhook worker wrote its outbox row (the index had the payment)."""
    webhook: float | None = None


@dataclass
class Config:
    payments: int
    threads: int
    residents: int
    merchants: int
    postgres: bool
    api_in_thread: bool
    seed: int = 5101


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--payments", type=int, default=None, help="payments per phase (600)")
    parser.add_argument("--threads", type=int, default=None, help="API client threads (16)")
    parser.add_argument("--residents", type=int, default=None, help="paying residents (64)")
    parser.add_argument("--merchants", type=int, default=None, help="merchants (8)")
    parser.add_argument("--no-postgres", action="store_true", help="index into SQLite only")
    parser.add_argument(
        "--api-in-thread",
        action="store_true",
        help="serve the API in a thread of this process (shares its GIL with the clients, "
        "the indexer and the receivers) instead of a process of its own",
    )


def run(args: argparse.Namespace) -> Report:
    quick = bool(args.quick)
    config = Config(
        payments=args.payments or (150 if quick else 600),
        threads=args.threads or (8 if quick else 16),
        residents=args.residents or (16 if quick else 64),
        merchants=args.merchants or (4 if quick else 8),
        postgres=not (args.no_postgres or quick),
        api_in_thread=bool(args.api_in_thread),
    )
    started = time.perf_counter()
    rows = measure(config)
    _print(rows, config, time.perf_counter() - started)
    return Report(
        {
            "config": asdict(config),
            "rows": [{**asdict(row), "verdict": row.verdict} for row in rows],
        }
    )


def measure(config: Config) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="bench-payments-") as work:
        root = Path(work)
        people = config.residents + config.merchants
        with city_on_node(
            root, "bench-payments", people, ("--block-period", str(BLOCK_PERIOD))
        ) as (node, city):
            merchants = city.people[: config.merchants]
            residents = city.people[config.merchants : config.merchants + config.residents]
            rng = random.Random(config.seed)
            raw_plan = _purchases(rng, config, config.payments)
            relayed_plan = _purchases(rng, config, config.payments)
            warm_plan = _purchases(rng, config, 2 * config.merchants)
            api_plan = _purchases(rng, config, config.payments)
            step("registering and funding the residents and merchants")
            _populate(city, residents, merchants, raw_plan + relayed_plan + warm_plan + api_plan)

            step(f"node, raw: flooding {len(raw_plan):,} pre-signed PaymentRouter.pay")
            assert node.process is not None
            processes = {"node": node.process.pid, "bench": os.getpid()}
            raw = _raw_flood(city, residents, merchants, raw_plan, processes)
            step(f"node, raw: flooding {len(relayed_plan):,} pre-signed PaymentRouter.payFor")
            rows = [raw, _relayed_flood(city, residents, merchants, relayed_plan, processes, raw)]
            rows += _api_path(
                city, residents, merchants, warm_plan, api_plan, config, root, raw, processes
            )
            for name, new_database in databases(root, config.postgres):
                step(f"indexer: the whole chain from scratch into {name}")
                rows.append(_catch_up(city, new_database(), f"indexer catch-up → {name}", raw))
    return rows


# -- the city's people --------------------------------------------------------------------------


def _purchases(rng: random.Random, config: Config, count: int) -> list[Purchase]:
    """The district's amounts (median ₩15,000), each from a random resident to a merchant."""
    plan = []
    for _ in range(count):
        amount = payment_amount(rng, PAYMENT_SIGMA)
        plan.append(
            Purchase(rng.randrange(config.residents), rng.randrange(config.merchants), amount)
        )
    return plan


def _populate(
    city: TestCity,
    residents: list[LocalAccount],
    merchants: list[LocalAccount],
    plan: list[Purchase],
) -> None:
    """Register everyone; mint each resident what it will spend (in mint-limit parts); each
    resident approves the router for a large allowance."""
    token, registry, router = city.city.token, city.city.registry, city.city.payments
    w3 = city.city.chain.w3
    people = [(m, AccountKind.MERCHANT) for m in merchants] + [
        (r, AccountKind.RESIDENT) for r in residents
    ]
    registrations = [
        (
            city.registrar,
            registry.contract.functions.register(
                person.address, int(kind), DISTRICT, keccak(text=f"bench:{person.address}")
            ),
        )
        for person, kind in people
    ]
    send_and_wait(city.url, presign(w3, registrations, gas=SETUP_GAS))
    needed = [0] * len(residents)
    for purchase in plan:
        needed[purchase.resident] += purchase.amount
    limit = token.mint_limit()
    mints: list[tuple[LocalAccount, ContractFunction]] = []
    for number, (resident, amount) in enumerate(zip(residents, needed, strict=True)):
        for part, start in enumerate(range(0, amount + 10_000, limit)):
            value = min(limit, amount + 10_000 - start)
            ref = reference(f"BENCH-PAY-{number}-{part}")
            mints.append(
                (city.treasury, token.contract.functions.mint(resident.address, value, ref))
            )
    approvals = [
        (resident, token.contract.functions.approve(router.address, ALLOWANCE))
        for resident in residents
    ]
    send_and_wait(city.url, presign(w3, mints + approvals, gas=SETUP_GAS))
    first = residents[0].address
    if token.balance_of(first) != needed[0] + 10_000:
        raise BenchmarkError("funding the residents failed")
    if token.allowance(first, router.address) != ALLOWANCE:
        raise BenchmarkError("the residents' approvals failed")


# -- 1. the node's raw rate ---------------------------------------------------------------------


def _raw_flood(
    city: TestCity,
    residents: list[LocalAccount],
    merchants: list[LocalAccount],
    plan: list[Purchase],
    processes: dict[str, int],
) -> Row:
    router = city.city.payments
    valid_until = int(time.time()) + 3_600
    orders = [Order.new(merchants[p.merchant].address, p.amount, valid_until) for p in plan]
    payers = [residents[p.resident] for p in plan]
    gas = 2 * city.city.chain.w3.eth.estimate_gas(
        {
            "from": payers[0].address,
            "to": router.address,
            "data": router.contract.encode_abi("pay", args=[orders[0].as_tuple()]),
        }
    )
    calls = [
        (payer, router.contract.functions.pay(order.as_tuple()))
        for payer, order in zip(payers, orders, strict=True)
    ]
    return _flood_row(
        f"node, raw: pre-signed PaymentRouter.pay ({FLOOD_THREADS} threads, {PER_REQUEST}/batch)",
        city,
        presign(city.city.chain.w3, calls, gas=gas),
        processes,
        threads=FLOOD_THREADS,
        note="submit → block (open loop, queueing included)",
    )


def _relayed_flood(
    city: TestCity,
    residents: list[LocalAccount],
    merchants: list[LocalAccount],
    plan: list[Purchase],
    processes: dict[str, int],
    raw: Row,
) -> Row:
    """The transaction the API sends for a payment, without the API: ``payFor`` signed by the
    payment operator (one account, so one submitting thread keeps its nonces in order) with
    each payer's EIP-712 Pay authorization. Next to the ``pay`` row it shows what the relayed
    form costs the node by itself."""
    router = city.city.payments
    operator = city.payment_operator
    valid_until = int(time.time()) + 3_600
    calls: list[tuple[LocalAccount, ContractFunction]] = []
    for purchase in plan:
        payer = residents[purchase.resident]
        order = Order.new(merchants[purchase.merchant].address, purchase.amount, valid_until)
        signature = router.sign_pay(payer, order.ref, valid_until)
        function = router.contract.functions.payFor(
            payer.address, order.as_tuple(), valid_until, signature, 0, 0, bytes(32), bytes(32)
        )
        calls.append((operator, function))
    return _flood_row(
        f"node, raw: pre-signed PaymentRouter.payFor (operator, 1 thread, {PER_REQUEST}/batch)",
        city,
        # The gas limit the API's sends carry.
        presign(city.city.chain.w3, calls, gas=FREE_GAS_CALL_LIMIT),
        processes,
        threads=1,
        note="what the API sends for a payment, without the API",
        reference=raw,
    )


def _flood_row(
    what: str,
    city: TestCity,
    raws: list[str],
    processes: dict[str, int],
    *,
    threads: int,
    note: str,
    reference: Row | None = None,
) -> Row:
    """Flood ``raws`` and measure it; the ratio is to ``reference``'s rate (1.0 without one:
    this row is the reference)."""
    meter = CpuMeter(processes)
    stats = flood(city.url, raws, clients=threads)
    return Row(
        what,
        stats.txs,
        stats.tps,
        "tx/s",
        stats.latency,
        ratio=1.0 if reference is None or reference.rate is None else stats.tps / reference.rate,
        note=f"{stats.blocks} blocks; {note}",
        cpu_ms=meter.per(stats.txs),
    )


# -- 2. the API path ----------------------------------------------------------------------------


@dataclass
class _Api:
    url: str
    stop: Callable[[], None]
    pid: int | None
    """The API's own process (None when it runs in a thread of this one)."""


def _api_path(
    city: TestCity,
    residents: list[LocalAccount],
    merchants: list[LocalAccount],
    warm_plan: list[Purchase],
    plan: list[Purchase],
    config: Config,
    root: Path,
    raw: Row,
    processes: dict[str, int],
) -> list[Row]:
    db_url = f"sqlite:///{root / 'api-index.sqlite3'}"
    engine = make_engine(db_url)
    upgrade_index(engine)
    upgrade_api(db_url)
    stop = threading.Event()
    indexer = Indexer.for_manifest(engine, city.url, city.city.manifest)
    follower = threading.Thread(
        target=indexer.follow, args=(stop, POLL_INTERVAL), name="indexer", daemon=True
    )
    step("API: the indexer catches up and follows; the API starts (webhooks on)")
    follower.start()
    receivers = [WebhookReceiver() for _ in merchants]
    api: _Api | None = None
    try:
        _wait_caught_up(city, engine)
        keys = [make_key(engine, m.address, None, "bench") for m in merchants]
        api = _start_api(city, db_url, config.api_in_thread)
        with httpx.Client(base_url=api.url + PREFIX, timeout=60) as client:
            for key, receiver in zip(keys, receivers, strict=True):
                answer = client.post(
                    "/webhooks",
                    json={"url": receiver.url, "event_types": ["payment.settled"]},
                    headers=_headers(key),
                )
                if answer.status_code != 201:
                    raise BenchmarkError(f"POST /webhooks: {answer.status_code} {answer.text}")
                receiver.secrets.append(answer.json()["secret"])
            tokens = [sign_in(client, resident) for resident in residents]
        step(f"API: warming up with {len(warm_plan)} payments")
        warm = _pay_all(city, api.url, residents, keys, tokens, warm_plan, 4)
        _await_webhooks(warm, receivers)
        step(f"API: {len(plan):,} payments from {config.threads} client threads")
        sampler = _LagSampler(city.url, engine)
        sampler.start()
        if api.pid is None:
            measured = {"node": processes["node"], "bench + API": processes["bench"]}
        else:
            measured = {**processes, "API": api.pid}
        meter = CpuMeter(measured)
        paid = _pay_all(city, api.url, residents, keys, tokens, plan, config.threads)
        missing = _await_webhooks(paid, receivers)
        cpu = meter.per(len(paid))
        sampler.stop()
        _read_outbox(engine, paid)
        deliveries = sum(len(r.events("payment.settled")) for r in receivers)
        unverified = sum(1 for r in receivers for d in r.events() if not d.verified)
    finally:
        if api is not None:
            api.stop()
        stop.set()
        follower.join(30)
        indexer.close()
        for receiver in receivers:
            receiver.stop()
        engine.dispose()
    if unverified:
        raise BenchmarkError(f"{unverified} webhook deliveries failed signature verification")
    return _api_rows(paid, missing, deliveries, sampler, raw, config, cpu)


def _api_rows(
    paid: list[Paid],
    missing: int,
    deliveries: int,
    sampler: _LagSampler,
    raw: Row,
    config: Config,
    cpu: dict[str, float],
) -> list[Row]:
    assert raw.rate is not None
    done = [p for p in paid if p.webhook is not None]
    first = min(p.created for p in paid)
    end_to_end = [p.webhook - p.created for p in done if p.webhook is not None]
    last = max((p.webhook for p in done if p.webhook is not None), default=first + 1e-9)
    paid_rate = rate(len(done), last - first)
    relayed_rate = rate(len(paid), max(p.relayed for p in paid) - first)
    note = f"{config.threads} clients, closed loop; {deliveries:,} deliveries"
    if missing:
        note += f"; {missing} WEBHOOKS MISSING"
    lags = sampler.lags
    to_outbox = [p.queued - p.relayed for p in done if p.queued is not None]
    to_receiver = [p.webhook - p.queued for p in done if p.webhook and p.queued is not None]
    return [
        Row(
            "API: paid invoices (invoice → relay/pay → payment.settled webhook)",
            len(done),
            paid_rate,
            "payments/s",
            Spread.ms(end_to_end),
            ratio=paid_rate / raw.rate,
            target=API_TARGET,
            note=note,
            cpu_ms=cpu,
        ),
        Row(
            "API: POST /relay/pay (payFor, answered when mined)",
            len(paid),
            relayed_rate,
            "payments/s",
            Spread.ms([p.relayed - p.relay_started for p in paid]),
            ratio=relayed_rate / raw.rate,
            note="rate: first invoice → last relay answer",
        ),
        Row(
            "API: POST /invoices",
            len(paid),
            None,
            "",
            Spread.ms([p.invoiced - p.created for p in paid]),
        ),
        Row(
            "  relay answered → in the webhook outbox (index + scan)",
            len(to_outbox),
            None,
            "",
            Spread.ms(to_outbox),
        ),
        Row(
            "  outbox → delivered to the merchant's endpoint",
            len(to_receiver),
            None,
            "",
            Spread.ms(to_receiver),
        ),
        Row(
            "indexer lag while following (head - cursor)",
            len(lags),
            None,
            "",
            Spread.of([float(x) for x in lags]),
            latency_unit="blocks",
            note=f"max {max(lags, default=0)} blocks; sampled every {POLL_INTERVAL} s",
        ),
    ]


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex}


def _wait_caught_up(city: TestCity, engine: Any, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        head = int(str(rpc(city.url, "eth_blockNumber")), 16)
        with engine.connect() as connection:
            cursor = read_cursor(connection)
        if cursor is not None and cursor.block_number >= head:
            return
        time.sleep(0.05)
    raise BenchmarkError("the indexer did not catch up")


def _settings(city: TestCity, db_url: str) -> Settings:
    return api_settings(
        city,
        db_url,
        webhooks_enabled=True,
        webhook_poll_interval=POLL_INTERVAL,
        # Throughput, not the per-key limiter (20/s by default) is measured here; every
        # resident signs in at once (the nonce limiter allows a burst of 20 by default).
        rate_limit_per_second=100_000.0,
        rate_limit_burst=100_000,
        siwe_nonces_per_minute=60_000.0,
        siwe_nonce_burst=5_000,
        idempotency_wait=60.0,
    )


def _start_api(city: TestCity, db_url: str, in_thread: bool) -> _Api:
    settings = _settings(city, db_url)
    if in_thread:
        stack = ExitStack()
        stack.enter_context(service_key_env(city.payment_operator))
        server = ApiServer(settings).start()
        stack.callback(server.stop)
        return _Api(server.url, stack.close, None)
    port = free_port()
    context = multiprocessing.get_context("spawn")
    process = context.Process(
        target=_serve_api,
        args=(settings, port, city.payment_operator.key.hex()),
        name="api",
        daemon=True,
    )
    process.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if not process.is_alive() or time.monotonic() > deadline:
            raise BenchmarkError("the API did not start")
        time.sleep(0.05)

    def stop_process() -> None:
        process.terminate()
        process.join(30)
        if process.is_alive():
            process.kill()
            process.join()

    assert process.pid is not None
    return _Api(url, stop_process, process.pid)


def _serve_api(settings: Settings, port: int, service_key: str) -> None:
    """The API's own process (multiprocessing, spawn): uvicorn on ``create_app``."""
    import uvicorn

    from api.main import create_app

    os.environ[SERVICE_KEY_ENV] = service_key
    configure_logging("warning")
    config = uvicorn.Config(
        create_app(settings),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="on",
        backlog=2048,
    )
    uvicorn.Server(config).run()


def _pay_all(
    city: TestCity,
    api_url: str,
    residents: list[LocalAccount],
    keys: list[str],
    tokens: list[str],
    plan: list[Purchase],
    threads: int,
) -> list[Paid]:
    """Each client thread pays its share of ``plan`` one after another (a closed loop)."""
    router = city.city.payments
    router.chain.chain_id  # noqa: B018 - read once before the threads sign

    def client(share: list[Purchase]) -> list[Paid]:
        paid = []
        with httpx.Client(base_url=api_url + PREFIX, timeout=120) as http:
            for purchase in share:
                created = time.time()
                answer = http.post(
                    "/invoices",
                    json={"amount": purchase.amount},
                    headers=_headers(keys[purchase.merchant]),
                )
                if answer.status_code != 201:
                    raise BenchmarkError(f"POST /invoices: {answer.status_code} {answer.text}")
                invoiced = time.time()
                invoice = answer.json()
                payer = residents[purchase.resident]
                deadline = int(invoiced) + 600
                signature = router.sign_pay(payer, bytes.fromhex(invoice["ref"][2:]), deadline)
                body = {
                    "order": invoice["order"],
                    "payer": payer.address,
                    "deadline": deadline,
                    "signature": "0x" + signature.hex(),
                }
                relay_started = time.time()
                answer = http.post(
                    "/relay/pay", json=body, headers=_headers(tokens[purchase.resident])
                )
                if answer.status_code != 201:
                    raise BenchmarkError(f"POST /relay/pay: {answer.status_code} {answer.text}")
                paid.append(
                    Paid(
                        invoice["ref"],
                        purchase.merchant,
                        purchase.amount,
                        created,
                        invoiced,
                        relay_started,
                        time.time(),
                    )
                )
        return paid

    shares = [plan[i::threads] for i in range(threads)]
    with ThreadPoolExecutor(threads) as pool:
        return [p for share in pool.map(client, [s for s in shares if s]) for p in share]


def _await_webhooks(paid: list[Paid], receivers: list[WebhookReceiver]) -> int:
    """Wait for the ``payment.settled`` webhook of every payment (its first delivery's arrival
    time goes into ``webhook``, and its amount is checked); returns how many never came."""
    waiting = {p.ref: p for p in paid}
    read = [0] * len(receivers)
    deadline = time.monotonic() + WEBHOOK_TIMEOUT
    while waiting and time.monotonic() < deadline:
        for number, receiver in enumerate(receivers):
            with receiver.lock:
                fresh = receiver.deliveries[read[number] :]
            read[number] += len(fresh)
            for delivery in fresh:
                event = delivery.event
                found = waiting.pop(event["data"].get("ref"), None)
                if found is not None and event["type"] == "payment.settled":
                    if event["data"]["amount"] != found.amount:
                        raise BenchmarkError(f"a webhook carries the wrong amount: {event}")
                    found.webhook = delivery.at
        if waiting:
            time.sleep(0.05)
    return len(waiting)


class _LagSampler:
    """Samples head - indexed block every POLL_INTERVAL seconds in a thread."""

    def __init__(self, url: str, engine: Any) -> None:
        self.url = url
        self.engine = engine
        self.lags: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lag-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            head = int(str(rpc(self.url, "eth_blockNumber")), 16)
            with self.engine.connect() as connection:
                cursor = read_cursor(connection)
            if cursor is not None:
                self.lags.append(max(0, head - cursor.block_number))
            self._stop.wait(POLL_INTERVAL)


def _read_outbox(engine: Any, paid: list[Paid]) -> None:
    """When each payment's webhook was queued (the outbox row's creation)."""
    by_ref = {p.ref: p for p in paid}
    with Session(engine) as session:
        for row in session.exec(select(WebhookOutbox)).all():
            found = by_ref.get(json.loads(row.payload)["data"].get("ref"))
            if found is not None:
                found.queued = row.created_at.timestamp()


# -- 3. the indexer -----------------------------------------------------------------------------


def _catch_up(city: TestCity, url: str, what: str, raw: Row) -> Row:
    assert raw.rate is not None
    stats = catch_up(city, url, what)
    events_rate = rate(stats.events, stats.seconds)
    return Row(
        what,
        stats.events,
        events_rate,
        "events/s",
        ratio=events_rate / raw.rate,
        target=INDEX_TARGET,
        note=f"{stats.blocks:,} blocks ({stats.events / max(1, stats.blocks):.1f} events a block) "
        f"in {stats.seconds:.1f} s; reconciled with the chain",
    )


# -- output -------------------------------------------------------------------------------------


def _print(rows: Sequence[Row], config: Config, elapsed: float) -> None:
    print_table(
        "CityLedger payments: the API path next to the node (embedded node, same run)",
        ("what", "count", "rate", "p50", "p95", "x node raw", "target", "verdict"),
        [
            (
                row.what,
                f"{row.count:,}",
                f"{row.rate:,.1f} {row.unit}" if row.rate is not None else "",
                _latency(row.latency.p50, row.latency_unit),
                _latency(row.latency.p95, row.latency_unit),
                f"{row.ratio:,.2f}" if row.ratio is not None else "",
                f">= {row.target:g}x" if row.target is not None else "",
                row.verdict,
            )
            for row in rows
        ],
    )
    lines = []
    for row in rows:
        parts = [row.note] if row.note else []
        if row.cpu_ms:
            spent = ", ".join(f"{name} {ms:,.1f}" for name, ms in row.cpu_ms.items())
            parts.append(f"CPU ms per payment: {spent}")
        if parts:
            lines.append(f"{row.what.strip()}: {'; '.join(parts)}")
    paid = next((row.rate for row in rows if row.target == API_TARGET), None) or 0.0
    life, city = covers(paid)
    lines.append(
        f"{config.residents} residents, {config.merchants} merchants; block period "
        f"{BLOCK_PERIOD} s; indexer and webhook worker poll every {POLL_INTERVAL} s; API "
        f"{'in a thread of this process' if config.api_in_thread else 'in its own process'}, "
        f"SQLite shared with the indexer. The API path covers {life:,.0f}x the life zone's "
        f"evening peak ({LIFE_ZONE_PEAK_TPS}/s) and {city:,.1f}x the city's "
        f"({CITY_PEAK_TPS:.0f}/s). Whole run {elapsed:,.0f} s."
    )
    notes(lines)


def _latency(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    return f"{value:,.0f} ms" if unit == "ms" else f"{value:,.1f} {unit}"
