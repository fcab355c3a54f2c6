"""Merchant payments per second through the city API (webhooks on), next to the node's raw rate.

    .venv/bin/python scripts/bench_payments.py [--payments 600] [--threads 16] [--quick]
                                               [--json PATH] [--no-postgres] [--api-in-thread]

One fresh embedded node (block period 0.05 s), the city deployed, R residents and M merchants
registered, the residents funded and each with a large allowance to the PaymentRouter (so a
payment is one transaction and needs no permit). Amounts are the reference district's
(WORKLOAD.md): log-normal around a ₩15,000 median, ₩1,000-300,000. Then, in the same run:

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
import math
import multiprocessing
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from rich.console import Console
from rich.table import Table
from sqlmodel import Session, select
from web3.contract.contract import ContractFunction

from api.migrations import upgrade as upgrade_api
from api.models import WebhookOutbox
from api.services import SERVICE_KEY_ENV
from cityledger.testing.accounts import make_accounts, write_genesis
from cityledger.testing.api import (
    PREFIX,
    SECRET,
    SIWE_DOMAIN,
    SIWE_URI,
    ApiServer,
    WebhookReceiver,
    make_key,
    service_key_env,
    sign_in,
)
from cityledger.testing.city import TestCity, deploy_test_city
from cityledger.testing.postgres import PostgresServer, find_postgres_bin
from cityledger.testing.processes import NodeProcess, free_port, rpc, rpc_batch
from cityledger.testing.token_flood import send_and_wait
from ledger.chain import FREE_GAS_CALL_LIMIT
from ledger.indexer.db import make_engine
from ledger.indexer.db import upgrade as upgrade_index
from ledger.indexer.load import read_cursor
from ledger.indexer.reconcile import reconcile
from ledger.indexer.runner import Indexer, manifest_contracts
from ledger.logging import configure_logging
from ledger.payments.orders import Order
from ledger.types import AccountKind, reference

API_TARGET = 0.7
INDEX_TARGET = 20.0
LIFE_ZONE_PEAK_TPS = 0.5
CITY_PEAK_TPS = 10.0
BLOCK_PERIOD = 0.05
POLL_INTERVAL = 0.1
"""Seconds between the indexer's looks at the head, and between webhook worker ticks."""
FLOOD_THREADS = 8
PER_REQUEST = 25
MEDIAN_KRW = 15_000
SIGMA = 0.8
DISTRICT = 5101
ALLOWANCE = 10**15
SETUP_GAS = 500_000
WEBHOOK_TIMEOUT = 180.0


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
    p50: float | None = None
    p95: float | None = None
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=None, help="payments per phase (600)")
    parser.add_argument("--threads", type=int, default=None, help="API client threads (16)")
    parser.add_argument("--residents", type=int, default=None, help="paying residents (64)")
    parser.add_argument("--merchants", type=int, default=None, help="merchants (8)")
    parser.add_argument("--quick", action="store_true", help="small sizes, SQLite only")
    parser.add_argument("--no-postgres", action="store_true", help="index into SQLite only")
    parser.add_argument(
        "--api-in-thread",
        action="store_true",
        help="serve the API in a thread of this process (shares its GIL with the clients, "
        "the indexer and the receivers) instead of a process of its own",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args()
    quick = bool(args.quick)
    config = Config(
        payments=args.payments or (150 if quick else 600),
        threads=args.threads or (8 if quick else 16),
        residents=args.residents or (16 if quick else 64),
        merchants=args.merchants or (4 if quick else 8),
        postgres=not (args.no_postgres or quick),
        api_in_thread=bool(args.api_in_thread),
    )
    configure_logging("warning")
    started = time.perf_counter()
    rows = run(config)
    elapsed = time.perf_counter() - started
    _print(rows, config, elapsed)
    if args.json is not None:
        document = {
            "config": asdict(config),
            "seconds": round(elapsed, 1),
            "rows": [{**asdict(row), "verdict": row.verdict} for row in rows],
        }
        args.json.write_text(json.dumps(document, indent=2) + "\n")
    return 0


def run(config: Config) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="bench-payments-") as work:
        root = Path(work)
        accounts = make_accounts(5 + config.residents + config.merchants + 2, "bench-payments")
        write_genesis(root / "genesis.json", accounts)
        node = NodeProcess(
            root / "genesis.json",
            root / "node",
            free_port(),
            ("--block-period", str(BLOCK_PERIOD)),
        )
        node.start()
        try:
            city = deploy_test_city(node.url, accounts, root / "deployments" / "bench.json")
            merchants = city.people[: config.merchants]
            residents = city.people[config.merchants : config.merchants + config.residents]
            rng = random.Random(config.seed)
            raw_plan = _purchases(rng, config, config.payments)
            relayed_plan = _purchases(rng, config, config.payments)
            warm_plan = _purchases(rng, config, 2 * config.merchants)
            api_plan = _purchases(rng, config, config.payments)
            _step("registering and funding the residents and merchants")
            _populate(city, residents, merchants, raw_plan + relayed_plan + warm_plan + api_plan)

            _step(f"node, raw: flooding {len(raw_plan):,} pre-signed PaymentRouter.pay")
            assert node.process is not None
            processes = {"node": node.process.pid, "bench": os.getpid()}
            raw = _raw_flood(city, residents, merchants, raw_plan, processes)
            _step(f"node, raw: flooding {len(relayed_plan):,} pre-signed PaymentRouter.payFor")
            rows = [raw, _relayed_flood(city, residents, merchants, relayed_plan, processes, raw)]
            rows += _api_path(
                city, residents, merchants, warm_plan, api_plan, config, root, raw, processes
            )
            for name, url in _databases(root, config.postgres):
                _step(f"indexer: the whole chain from scratch into {name}")
                rows.append(_catch_up(city, url, f"indexer catch-up → {name}", raw))
        except BaseException:
            log = node.log_path.read_text() if node.log_path.exists() else ""
            tail = "\n".join(log.splitlines()[-15:])
            print(f"the node's last log lines:\n{tail}", file=sys.stderr)
            raise
        finally:
            node.stop()
    return rows


def _step(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message} …", file=sys.stderr, flush=True)


# -- the city's people --------------------------------------------------------------------------


def _purchases(rng: random.Random, config: Config, count: int) -> list[Purchase]:
    """Log-normal amounts around the district's median, rounded to ₩100."""
    plan = []
    for _ in range(count):
        amount = rng.lognormvariate(math.log(MEDIAN_KRW), SIGMA)
        amount = min(300_000, max(1_000, round(amount / 100) * 100))
        plan.append(
            Purchase(rng.randrange(config.residents), rng.randrange(config.merchants), amount)
        )
    return plan


def _presign(
    city: TestCity,
    calls: Sequence[tuple[LocalAccount, ContractFunction]],
    *,
    gas: int = SETUP_GAS,
) -> list[str]:
    """Each call signed by its signer with consecutive nonces (free gas, fixed gas limit)."""
    w3 = city.city.chain.w3
    nonces: dict[str, int] = {}
    raws = []
    for signer, function in calls:
        if signer.address not in nonces:
            nonces[signer.address] = w3.eth.get_transaction_count(signer.address, "pending")
        params: Any = {
            "from": signer.address,
            "nonce": nonces[signer.address],
            "gas": gas,
            "maxFeePerGas": 0,
            "maxPriorityFeePerGas": 0,
            "chainId": city.city.chain.chain_id,
        }
        tx: Any = function.build_transaction(params)
        nonces[signer.address] += 1
        raws.append("0x" + bytes(signer.sign_transaction(tx).raw_transaction).hex())
    return raws


def _populate(
    city: TestCity,
    residents: list[LocalAccount],
    merchants: list[LocalAccount],
    plan: list[Purchase],
) -> None:
    """Register everyone; mint each resident what it will spend (in mint-limit parts); each
    resident approves the router for a large allowance."""
    token, registry, router = city.city.token, city.city.registry, city.city.payments
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
    send_and_wait(city.url, _presign(city, registrations))
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
    send_and_wait(city.url, _presign(city, mints + approvals))
    first = residents[0].address
    assert token.balance_of(first) == needed[0] + 10_000, "funding failed"
    assert token.allowance(first, router.address) == ALLOWANCE, "approval failed"


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
        _presign(city, calls, gas=gas),
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
        _presign(city, calls, gas=FREE_GAS_CALL_LIMIT),  # the limit the API's sends carry
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
    """Flood ``raws`` (see :func:`_flood`) and measure it; the ratio is to ``reference``'s
    rate (1.0 without one: this row is the reference)."""
    meter = CpuMeter(processes)
    seconds, latencies, blocks = _flood(city.url, raws, threads=threads)
    rate = len(raws) / seconds
    return Row(
        what,
        len(raws),
        rate,
        "tx/s",
        _percentile(latencies, 0.5) * 1000,
        _percentile(latencies, 0.95) * 1000,
        ratio=1.0 if reference is None or reference.rate is None else rate / reference.rate,
        note=f"{blocks} blocks; {note}",
        cpu_ms=meter.per(len(raws)),
    )


def _flood(
    url: str, raws: list[str], *, threads: int = FLOOD_THREADS
) -> tuple[float, list[float], int]:
    """Send ``raws`` from ``threads`` threads while a watcher reads each new block's transactions;
    returns the seconds to the block of the last one, each one's submit → block seconds, and
    the blocks used. Every receipt is checked (status 1) afterwards."""
    submitted: dict[str, float] = {}
    seen: dict[str, float] = {}
    blocks: set[int] = set()
    lock = threading.Lock()
    done = threading.Event()
    start_block = int(str(rpc(url, "eth_blockNumber")), 16)

    def watch() -> None:
        number = start_block
        while True:
            head = int(str(rpc(url, "eth_blockNumber")), 16)
            now = time.perf_counter()
            if head > number:
                calls: list[tuple[str, list[object]]] = [
                    ("eth_getBlockByNumber", [hex(n), False]) for n in range(number + 1, head + 1)
                ]
                for block in rpc_batch(url, calls):
                    assert isinstance(block, dict)
                    with lock:
                        for tx_hash in block["transactions"]:
                            seen[str(tx_hash)] = now
                        if block["transactions"]:
                            blocks.add(int(block["number"], 16))
                number = head
            with lock:
                if done.is_set() and all(h in seen for h in submitted):
                    return
            time.sleep(0.01)

    def submit(chunk: list[str]) -> None:
        now = time.perf_counter()
        hashes = rpc_batch(url, [("eth_sendRawTransaction", [r]) for r in chunk])
        with lock:
            for tx_hash in hashes:
                submitted[str(tx_hash)] = now

    chunks = [raws[i : i + PER_REQUEST] for i in range(0, len(raws), PER_REQUEST)]
    watcher = threading.Thread(target=watch, daemon=True)
    started = time.perf_counter()
    watcher.start()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(submit, chunks))
    done.set()
    watcher.join()
    seconds = max(seen[h] for h in submitted) - started
    latencies = [seen[h] - at for h, at in submitted.items()]
    hashes = list(submitted)
    for i in range(0, len(hashes), 500):
        part = hashes[i : i + 500]
        for tx_hash, receipt in zip(
            part, rpc_batch(url, [("eth_getTransactionReceipt", [h]) for h in part]), strict=True
        ):
            assert isinstance(receipt, dict), tx_hash
            if receipt["status"] != "0x1":
                raise SystemExit(f"payment {tx_hash} failed: {receipt}")
    return seconds, latencies, len(blocks)


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
    _step("API: the indexer catches up and follows; the API starts (webhooks on)")
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
                assert answer.status_code == 201, answer.text
                receiver.secrets.append(answer.json()["secret"])
            tokens = [sign_in(client, resident) for resident in residents]
        _step(f"API: warming up with {len(warm_plan)} payments")
        warm = _pay_all(city, api.url, residents, keys, tokens, warm_plan, 4)
        _await_webhooks(warm, receivers)
        _step(f"API: {len(plan):,} payments from {config.threads} client threads")
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
        raise SystemExit(f"{unverified} webhook deliveries failed signature verification")
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
    rate = len(done) / (last - first)
    relay = [p.relayed - p.relay_started for p in paid]
    invoice = [p.invoiced - p.created for p in paid]
    relayed_rate = len(paid) / (max(p.relayed for p in paid) - first)
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
            rate,
            "payments/s",
            _percentile(end_to_end, 0.5) * 1000,
            _percentile(end_to_end, 0.95) * 1000,
            ratio=rate / raw.rate,
            target=API_TARGET,
            note=note,
            cpu_ms=cpu,
        ),
        Row(
            "API: POST /relay/pay (payFor, answered when mined)",
            len(paid),
            relayed_rate,
            "payments/s",
            _percentile(relay, 0.5) * 1000,
            _percentile(relay, 0.95) * 1000,
            ratio=relayed_rate / raw.rate,
            note="rate: first invoice → last relay answer",
        ),
        Row(
            "API: POST /invoices",
            len(paid),
            None,
            "",
            _percentile(invoice, 0.5) * 1000,
            _percentile(invoice, 0.95) * 1000,
        ),
        Row(
            "  relay answered → in the webhook outbox (index + scan)",
            len(to_outbox),
            None,
            "",
            _percentile(to_outbox, 0.5) * 1000,
            _percentile(to_outbox, 0.95) * 1000,
        ),
        Row(
            "  outbox → delivered to the merchant's endpoint",
            len(to_receiver),
            None,
            "",
            _percentile(to_receiver, 0.5) * 1000,
            _percentile(to_receiver, 0.95) * 1000,
        ),
        Row(
            "indexer lag while following (head - cursor)",
            len(lags),
            None,
            "",
            _percentile([float(x) for x in lags], 0.5),
            _percentile([float(x) for x in lags], 0.95),
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
    raise SystemExit("the indexer did not catch up")


def _settings(city: TestCity, db_url: str) -> dict[str, Any]:
    return {
        "environment": "staging",
        "secret_key": SECRET,
        "db_url": db_url,
        "rpc_url": city.url,
        "network": city.manifest_path.stem,
        "deployments_dir": str(city.manifest_path.parent),
        "siwe_domain": SIWE_DOMAIN,
        "siwe_uri": SIWE_URI,
        "webhooks_enabled": True,
        "webhook_poll_interval": POLL_INTERVAL,
        "webhook_allow_private_hosts": True,
        # Throughput, not the per-key limiter (20/s by default) is measured here.
        "rate_limit_per_second": 100_000.0,
        "rate_limit_burst": 100_000,
        "idempotency_wait": 60.0,
    }


def _start_api(city: TestCity, db_url: str, in_thread: bool) -> _Api:
    values = _settings(city, db_url)
    if in_thread:
        from api.core.config import Settings

        stack = ExitStack()
        stack.enter_context(service_key_env(city.payment_operator))
        server = ApiServer(Settings(**values)).start()
        stack.callback(server.stop)

        def stop_thread() -> None:
            stack.close()

        return _Api(server.url, stop_thread, None)
    port = free_port()
    context = multiprocessing.get_context("spawn")
    process = context.Process(
        target=_serve_api,
        args=(values, port, city.payment_operator.key.hex()),
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
            raise SystemExit("the API did not start")
        time.sleep(0.05)

    def stop_process() -> None:
        process.terminate()
        process.join(30)
        if process.is_alive():
            process.kill()
            process.join()

    assert process.pid is not None
    return _Api(url, stop_process, process.pid)


def _serve_api(values: dict[str, Any], port: int, service_key: str) -> None:
    """The API's own process (multiprocessing, spawn): uvicorn on ``create_app``."""
    import uvicorn

    from api.core.config import Settings
    from api.main import create_app

    os.environ[SERVICE_KEY_ENV] = service_key
    configure_logging("warning")
    config = uvicorn.Config(
        create_app(Settings(**values)),
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
                    raise SystemExit(f"POST /invoices: {answer.status_code} {answer.text}")
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
                    raise SystemExit(f"POST /relay/pay: {answer.status_code} {answer.text}")
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
                    assert event["data"]["amount"] == found.amount, event
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


class CpuMeter:
    """CPU seconds (user + system, all threads) that processes spend from now on."""

    def __init__(self, processes: dict[str, int]) -> None:
        self.processes = processes
        self.started = {name: _cpu_seconds(pid) for name, pid in processes.items()}

    def per(self, count: int) -> dict[str, float]:
        """Milliseconds of CPU per item since the start, by process."""
        return {
            name: (_cpu_seconds(pid) - self.started[name]) * 1000 / count
            for name, pid in self.processes.items()
        }


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- 3. the indexer -----------------------------------------------------------------------------


def _databases(root: Path, postgres: bool) -> Iterator[tuple[str, str]]:
    yield "SQLite", f"sqlite:///{root / 'catch-up.sqlite3'}"
    if not postgres:
        return
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        print("PostgreSQL is not installed: SQLite only", file=sys.stderr)
        return
    with _postgres(bin_dir) as server:
        yield "PostgreSQL", server.new_database("bench")


@contextmanager
def _postgres(bin_dir: Path) -> Iterator[PostgresServer]:
    server_root = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    server_root.chmod(0o755)
    server = PostgresServer(bin_dir, server_root, free_port()).start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server_root, ignore_errors=True)


def _catch_up(city: TestCity, url: str, what: str, raw: Row) -> Row:
    assert raw.rate is not None
    engine = make_engine(url)
    upgrade_index(engine)
    with Indexer.for_manifest(engine, city.url, city.city.manifest) as indexer:
        stats = indexer.run_once()
    report = reconcile(engine, city.url, manifest_contracts(city.city.manifest))
    engine.dispose()
    if not report.ok:
        raise SystemExit(f"{what}: the index differs from the chain: {report.differences[:5]}")
    rate = stats.events / stats.seconds
    return Row(
        what,
        stats.events,
        rate,
        "events/s",
        ratio=rate / raw.rate,
        target=INDEX_TARGET,
        note=f"{stats.blocks:,} blocks ({stats.events / max(1, stats.blocks):.1f} events a block) "
        f"in {stats.seconds:.1f} s; reconciled with the chain",
    )


# -- output -------------------------------------------------------------------------------------


def _percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return 0.0
    if fraction == 0.5:
        return statistics.median(values)
    ordered = sorted(values)
    return ordered[int(fraction * (len(ordered) - 1))]


def _print(rows: list[Row], config: Config, elapsed: float) -> None:
    table = Table(
        title="CityLedger payments: the API path next to the node (embedded node, same run)"
    )
    for column in ("what", "count", "rate", "p50", "p95", "x node raw", "target", "verdict"):
        table.add_column(column, justify="left" if column == "what" else "right")
    for row in rows:
        table.add_row(
            row.what,
            f"{row.count:,}",
            f"{row.rate:,.1f} {row.unit}" if row.rate is not None else "",
            _latency(row.p50, row.latency_unit),
            _latency(row.p95, row.latency_unit),
            f"{row.ratio:,.2f}" if row.ratio is not None else "",
            f">= {row.target:g}x" if row.target is not None else "",
            row.verdict,
        )
    console = Console(width=max(Console().width, 140))
    console.print(table)
    for row in rows:
        notes = [row.note] if row.note else []
        if row.cpu_ms:
            spent = ", ".join(f"{name} {ms:,.1f}" for name, ms in row.cpu_ms.items())
            notes.append(f"CPU ms per payment: {spent}")
        if notes:
            console.print(f"[dim]{row.what.strip()}: {'; '.join(notes)}[/dim]")
    paid = next((row.rate for row in rows if row.target == API_TARGET), None) or 0.0
    console.print(
        f"[dim]{config.residents} residents, {config.merchants} merchants; block period "
        f"{BLOCK_PERIOD} s; indexer and webhook worker poll every {POLL_INTERVAL} s; API "
        f"{'in a thread of this process' if config.api_in_thread else 'in its own process'}, "
        f"SQLite shared with the indexer. The API path covers {paid / LIFE_ZONE_PEAK_TPS:,.0f}x "
        f"the life zone's evening peak (0.5/s) and {paid / CITY_PEAK_TPS:,.1f}x the city's "
        f"(10/s). Whole run {elapsed:,.0f} s.[/dim]"
    )


def _latency(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    return f"{value:,.0f} ms" if unit == "ms" else f"{value:,.1f} {unit}"


if __name__ == "__main__":
    raise SystemExit(main())
