"""Chain plumbing: a city on a fresh node, JSON-RPC sessions, and the one flood that every
workload times its transactions with.

:func:`send_all` submits pre-signed transactions from client threads (in JSON-RPC batches, or
one a request at a steady rate), retries what the pool refuses for back-pressure, checks every
hash the node answers, and finds each transaction mined in one of two ways:

* ``watch_blocks=False``: asks for receipts, the oldest outstanding first (both nodes mine in
  arrival order, so few lookups are wasted); works on any client (the chain workload: the
  embedded node and anvil);
* ``watch_blocks=True``: reads each new block's transaction list (one request a block, so
  the node spends its CPU on the transactions); every receipt's status is checked at the end.

Either way a transaction's latency is the time from its request to the moment it was seen
mined, and the rate is the transactions over the first request to the last one seen mined.
"""

from __future__ import annotations

import itertools
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from cityledger.testing.accounts import make_accounts, write_genesis
from cityledger.testing.city import TestCity, deploy_test_city
from cityledger.testing.processes import NodeProcess, free_port
from scripts.bench._utils import BenchmarkError
from scripts.bench._utils.meters import RunStats
from scripts.bench._utils.tx import balance_of_data, tx_hash

TRANSIENT_REJECTIONS = ("nonce too high", "txpool is full")
"""Pool back-pressure a real client waits out and retries; every other rejection is fatal."""

STAFF = 7
"""Accounts ``deploy_test_city`` takes besides the people: 5 first, 2 last."""


@contextmanager
def city_on_node(
    root: Path, label: str, people: int, node_args: Sequence[str] = ()
) -> Iterator[tuple[NodeProcess, TestCity]]:
    """A fresh ``cityledger node`` in ``root`` whose genesis funds and allowlists the city's
    staff and ``people`` more accounts (keys derived from ``label``), with the city deployed.
    If the run fails, the node's last log lines go to stderr."""
    accounts = make_accounts(STAFF + people, label)
    write_genesis(root / "genesis.json", accounts)
    node = NodeProcess(root / "genesis.json", root / "node", free_port(), tuple(node_args))
    node.start()
    try:
        yield node, deploy_test_city(node.url, accounts, root / "deployments" / "bench.json")
    except BaseException:
        log = node.log_path.read_text() if node.log_path.exists() else ""
        tail = "\n".join(log.splitlines()[-15:])
        print(f"the node's last log lines:\n{tail}", file=sys.stderr)
        raise
    finally:
        node.stop()


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class RpcSession:
    """JSON-RPC over persistent HTTP connections; several calls go in one POST.

    Threads of one run share one ``http`` client (its pool keeps a connection per thread):
    making an ``httpx.Client`` builds an SSL context, ~30 ms of the benchmark's CPU each.
    """

    def __init__(self, url: str, http: httpx.Client | None = None) -> None:
        self.url = url
        self._own = http is None
        self._http = http if http is not None else httpx.Client(timeout=120.0)

    def __enter__(self) -> RpcSession:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._own:
            self._http.close()

    def send(self, calls: Sequence[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
        """The response objects in call order (a single call goes as a plain, unbatched
        request, so one transaction a request measures the unbatched path)."""
        body: Any = [
            {"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)
        ]
        response = self._http.post(self.url, json=body[0] if len(body) == 1 else body)
        response.raise_for_status()
        document = response.json()
        answers = [document] if isinstance(document, dict) else document
        by_id = {a.get("id"): a for a in answers}
        if len(calls) > 1 and set(by_id) != set(range(len(calls))):
            raise BenchmarkError(f"batch answer does not match the request: {document!r:.300}")
        return [by_id[i] if len(calls) > 1 else answers[0] for i in range(len(calls))]

    def results(self, calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        """Like :meth:`send`, but any error answer is fatal."""
        answers = self.send(calls)
        errors = [a["error"] for a in answers if "error" in a]
        if errors:
            raise BenchmarkError(f"{len(errors)} JSON-RPC errors, first: {errors[0]}")
        return [a["result"] for a in answers]

    def block_number(self) -> int:
        return int(self.results([("eth_blockNumber", [])])[0], 16)


def wait_for_receipts(session: RpcSession, hashes: Sequence[str], timeout: float) -> list[Any]:
    """Every receipt, polling until all exist (untimed set-up work)."""
    deadline = time.monotonic() + timeout
    while True:
        receipts = session.results([("eth_getTransactionReceipt", [h]) for h in hashes])
        if all(r is not None for r in receipts):
            return receipts
        if time.monotonic() > deadline:
            raise BenchmarkError(f"receipts missing after {timeout} s")
        time.sleep(0.05)


def erc20_balances(url: str, token: str, holders: list[str]) -> list[int]:
    """``balanceOf`` each holder, by ``eth_call`` in batches of 100."""
    with RpcSession(url) as session:
        values: list[int] = []
        for chunk in chunks(holders, 100):
            calls = [
                ("eth_call", [{"to": token, "data": "0x" + balance_of_data(h).hex()}, "latest"])
                for h in chunk
            ]
            values.extend(int(v, 16) for v in session.results(calls))
        return values


# -- the flood ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmitPlan:
    """How a run offers its load: a flood (throughput) or a steady rate (latency)."""

    clients: int = 8
    per_request: int = 25
    """``eth_sendRawTransaction`` calls per HTTP request (1 = no batching)."""
    poll_batch: int = 100
    """Receipts asked per request (``watch_blocks=False``)."""
    poll_interval: float = 0.05
    """Seconds between looks while nothing new is mined."""
    timeout: float = 600.0
    rate: float | None = None
    """Offered load in tx/s (with one client sending one tx a request, in order); ``None``
    sends as fast as possible."""
    watch_blocks: bool = False

    def describe(self) -> str:
        if self.rate is not None:
            return f"steady {self.rate:g} tx/s offered, 1 client, 1 tx/request"
        return f"flood: {self.clients} clients x {self.per_request} txs/request"


def flood(url: str, raws: Sequence[bytes | str], *, clients: int = 8) -> RunStats:
    """``raws`` from ``clients`` threads, 25 a request, each timed to the block that holds it."""
    return send_all(url, raws, SubmitPlan(clients, 25, poll_interval=0.01, watch_blocks=True))


class _Tracker:
    """Shared state of one timed run: submit times, mined times, what is outstanding."""

    def __init__(self, count: int) -> None:
        self.lock = threading.Lock()
        self.submitted: list[float | None] = [None] * count
        self.mined: list[float | None] = [None] * count
        self.failed: list[int] = []
        self.outstanding: dict[int, None] = {}
        self.blocks: set[str] = set()
        self.errors: list[BaseException] = []
        self.done = 0
        self.started = 0.0
        self.stop = threading.Event()
        """Set when the run ends or fails: submitters stop instead of running on."""

    def accepted(self, indices: Sequence[int]) -> None:
        with self.lock:
            self.outstanding.update((i, None) for i in indices if self.mined[i] is None)

    def oldest(self, limit: int) -> list[int]:
        with self.lock:
            return list(itertools.islice(self.outstanding, limit))

    def found(self, mined: Sequence[tuple[int, bool]], at: float, blocks: set[str]) -> None:
        with self.lock:
            for index, ok in mined:
                if self.mined[index] is not None:
                    continue
                self.mined[index] = at
                self.outstanding.pop(index, None)
                if not ok:
                    self.failed.append(index)
                self.done += 1
            self.blocks |= blocks

    def stats(self) -> RunStats:
        submitted = [t for t in self.submitted if t is not None]
        mined = [t for t in self.mined if t is not None]
        latencies = [
            (m - s) * 1000
            for s, m in zip(self.submitted, self.mined, strict=True)
            if s is not None and m is not None
        ]
        return RunStats(len(mined), max(mined) - min(submitted), latencies, len(self.blocks))


def send_all(
    url: str,
    raws: Sequence[bytes | str],
    plan: SubmitPlan,
    hashes: Sequence[str] | None = None,
) -> RunStats:
    """Submit ``raws`` as ``plan`` says while one thread finds them mined; fail loudly on any
    rejected, lost or failed transaction. ``hashes`` (if known) saves hashing ``raws``."""
    hexes = [r if isinstance(r, str) else "0x" + r.hex() for r in raws]
    if hashes is None:
        hashes = [tx_hash(bytes.fromhex(h[2:])) for h in hexes]
    count = len(hexes)
    tracker = _Tracker(count)
    pending = iter(list(chunks(range(count), plan.per_request)))
    pending_lock = threading.Lock()

    def next_chunk() -> Sequence[int] | None:
        with pending_lock:
            return next(pending, None)

    deadline = time.monotonic() + plan.timeout
    limits = httpx.Limits(
        max_connections=plan.clients + 1, max_keepalive_connections=plan.clients + 1
    )
    with httpx.Client(timeout=120.0, limits=limits) as http:
        session = RpcSession(url, http)
        first_block = session.block_number() if plan.watch_blocks else 0
        threads = [
            threading.Thread(
                target=_guarded,
                args=(tracker, _submitter, session, hexes, hashes, next_chunk, plan, deadline),
                daemon=True,
            )
            for _ in range(plan.clients)
        ]
        tracker.started = time.perf_counter()
        for thread in threads:
            thread.start()
        try:
            if plan.watch_blocks:
                _watch_blocks(session, hashes, tracker, plan, deadline, first_block)
            else:
                _poll_receipts(session, hashes, tracker, plan, deadline)
        finally:
            tracker.stop.set()
            for thread in threads:
                thread.join()
        if tracker.errors:
            raise BenchmarkError(f"submission failed: {tracker.errors[0]}") from tracker.errors[0]
        if plan.watch_blocks:
            _check_statuses(session, hashes, tracker)
    if tracker.failed:
        raise BenchmarkError(
            f"{len(tracker.failed)} transactions have status 0, e.g. {hashes[tracker.failed[0]]}"
        )
    return tracker.stats()


def _guarded(tracker: _Tracker, target: Callable[..., None], *args: Any) -> None:
    """Run a worker (``target(tracker, *args)``); an exception is recorded so the main thread
    fails instead of hanging."""
    try:
        target(tracker, *args)
    except BaseException as exc:
        with tracker.lock:
            tracker.errors.append(exc)
        tracker.stop.set()


def _submitter(
    tracker: _Tracker,
    session: RpcSession,
    hexes: Sequence[str],
    hashes: Sequence[str],
    next_chunk: Callable[[], Sequence[int] | None],
    plan: SubmitPlan,
    deadline: float,
) -> None:
    while not tracker.stop.is_set() and (chunk := next_chunk()) is not None:
        if plan.rate is not None:  # steady load: tx i leaves at start + i / rate
            delay = tracker.started + chunk[0] / plan.rate - time.perf_counter()
            if delay > 0 and tracker.stop.wait(delay):
                return
        pending = list(chunk)
        first_attempt = time.perf_counter()
        for index in pending:
            tracker.submitted[index] = first_attempt
        while pending:
            pending = _submit_once(session, hexes, hashes, tracker, pending)
            if pending:
                if time.monotonic() > deadline:
                    raise BenchmarkError(f"{len(pending)} txs still refused at the deadline")
                time.sleep(0.05)


def _submit_once(
    session: RpcSession,
    hexes: Sequence[str],
    hashes: Sequence[str],
    tracker: _Tracker,
    indices: list[int],
) -> list[int]:
    """Send ``indices`` in one request; return those refused for back-pressure (to retry)."""
    answers = session.send([("eth_sendRawTransaction", [hexes[i]]) for i in indices])
    accepted, retry = [], []
    for index, answer in zip(indices, answers, strict=True):
        error = answer.get("error")
        if error is None:
            if answer["result"] != hashes[index]:
                raise BenchmarkError(f"node returned hash {answer['result']} for {hashes[index]}")
            accepted.append(index)
        elif any(text in str(error.get("message", "")) for text in TRANSIENT_REJECTIONS):
            retry.append(index)
        else:
            raise BenchmarkError(f"tx {hashes[index]} rejected: {error}")
    tracker.accepted(accepted)
    return retry


def _until_mined(
    tracker: _Tracker, count: int, plan: SubmitPlan, deadline: float
) -> Iterator[None]:
    """One round per look at the chain while some of ``count`` transactions are not found
    mined (and no submitter failed); past the deadline, they count as lost."""
    while tracker.done < count and not tracker.errors:
        if time.monotonic() > deadline:
            raise BenchmarkError(
                f"lost transactions: {count - tracker.done} of {count} not mined after "
                f"{plan.timeout:g} s"
            )
        yield


def _poll_receipts(
    session: RpcSession,
    hashes: Sequence[str],
    tracker: _Tracker,
    plan: SubmitPlan,
    deadline: float,
) -> None:
    for _ in _until_mined(tracker, len(hashes), plan, deadline):
        window = tracker.oldest(plan.poll_batch)
        if not window:
            time.sleep(plan.poll_interval / 5)
            continue
        receipts = session.results([("eth_getTransactionReceipt", [hashes[i]]) for i in window])
        now = time.perf_counter()
        mined = [(i, r) for i, r in zip(window, receipts, strict=True) if r is not None]
        tracker.found(
            [(i, int(r["status"], 16) == 1) for i, r in mined],
            now,
            {r["blockHash"] for _, r in mined},
        )
        if len(mined) < len(window):
            time.sleep(plan.poll_interval)


def _watch_blocks(
    session: RpcSession,
    hashes: Sequence[str],
    tracker: _Tracker,
    plan: SubmitPlan,
    deadline: float,
    number: int,
) -> None:
    """Read every block after ``number`` as it comes; what it holds is mined at that moment."""
    index = {h: i for i, h in enumerate(hashes)}
    for _ in _until_mined(tracker, len(hashes), plan, deadline):
        head = session.block_number()
        now = time.perf_counter()
        for part in chunks(range(number + 1, head + 1), 100):
            blocks = session.results([("eth_getBlockByNumber", [hex(n), False]) for n in part])
            for block in blocks:
                mined = [index[h] for h in block["transactions"] if h in index]
                if mined:
                    tracker.found([(i, True) for i in mined], now, {block["hash"]})
        number = max(number, head)
        time.sleep(plan.poll_interval)


def _check_statuses(session: RpcSession, hashes: Sequence[str], tracker: _Tracker) -> None:
    for part in chunks(range(len(hashes)), 500):
        receipts = session.results([("eth_getTransactionReceipt", [hashes[i]]) for i in part])
        tracker.failed += [i for i, r in zip(part, receipts, strict=True) if r["status"] != "0x1"]
