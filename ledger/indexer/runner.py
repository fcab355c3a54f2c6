"""The indexing loop: read the chain in batches, load each in one transaction, follow the head.

``Indexer.run_once()`` indexes up to ``head - confirmations`` and returns; ``follow()`` repeats
that every ``poll_interval`` seconds until its stop event is set. Each batch is logged with its
rate (events/s) and the lag behind the head (blocks); a reorg is logged with its depth.

Each run first checks the node serves the indexed chain (chain id, genesis) and that the
manifest's contracts are the indexed ones; a contract the deployment gained later is caught up
from its deployment block (see :meth:`Indexer._adopt_contracts`).
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import Engine, select

from ledger import defaults
from ledger.deploy import Manifest
from ledger.exceptions import ChainError, ChainUnavailableError, ConfigError
from ledger.indexer.db import table, write_transaction
from ledger.indexer.decode import DecodedEvent, Decoder
from ledger.indexer.errors import (
    ChainResetError,
    CursorMovedError,
    IndexerError,
    ParentMismatchError,
)
from ledger.indexer.extract import Batch, Extractor, RpcClient
from ledger.indexer.load import (
    CursorState,
    contracts_json,
    init_cursor,
    load_batch,
    read_cursor,
    write_cursor,
)
from ledger.indexer.reorg import (
    Ancestor,
    check_same_chain,
    find_common_ancestor,
    reset_message,
    rollback,
)

MAX_RETRIES_PER_RUN = 20
MAX_BACKOFF = 30.0
"""The longest pause between retries of a node that refuses reads."""
PROBE_INTERVAL = 0.5
"""Seconds between cheap looks at an unreachable node, to resume as soon as it is back."""


def manifest_contracts(manifest: Manifest) -> dict[str, str]:
    """address → contract name, for every contract the manifest lists."""
    return {str(entry["address"]): name for name, entry in manifest.contracts.items()}


@dataclass
class RunStats:
    """What one ``run_once`` did."""

    blocks: int = 0
    events: int = 0
    batches: int = 0
    reorgs: int = 0
    seconds: float = 0.0
    head: int = 0
    cursor: int = -1

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    @property
    def lag(self) -> int:
        return max(0, self.head - self.cursor)


@dataclass
class Indexer:
    engine: Engine
    rpc_url: str
    contracts: Mapping[str, str]
    """address → contract name (see :func:`manifest_contracts`)."""
    start_block: int = 0
    batch_blocks: int = defaults.INDEX_BATCH_BLOCKS
    confirmations: int = 0
    max_reorg_depth: int = defaults.INDEX_MAX_REORG_DEPTH
    deployed_at: Mapping[str, int] = field(default_factory=dict)
    """contract name → its deployment block (a contract missing here counts from
    ``start_block``): where to catch a contract up from when it joins the index later."""
    log: Any = field(default_factory=lambda: structlog.get_logger("cityledger.index"))

    def __post_init__(self) -> None:
        if self.batch_blocks < 1:
            raise ConfigError("a batch is at least 1 block")
        if self.confirmations < 0:
            raise ConfigError("confirmations cannot be negative")
        self.rpc = RpcClient(self.rpc_url)
        self.extractor = Extractor(self.rpc, self.contracts)
        self.reader = Extractor(RpcClient(self.rpc_url), self.contracts)
        """The read-ahead thread's own connection."""
        self.decoder = Decoder(self.contracts)

    @classmethod
    def for_manifest(
        cls, engine: Engine, rpc_url: str, manifest: Manifest, **options: Any
    ) -> Indexer:
        return cls(
            engine,
            rpc_url,
            manifest_contracts(manifest),
            start_block=manifest.deployment_block or 0,
            deployed_at={
                name: int(entry["block"])
                for name, entry in manifest.contracts.items()
                if entry.get("block") is not None
            },
            **options,
        )

    def close(self) -> None:
        self.rpc.close()
        self.reader.rpc.close()

    def __enter__(self) -> Indexer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def cursor(self) -> CursorState | None:
        with self.engine.connect() as connection:
            return read_cursor(connection)

    def _start(self) -> CursorState:
        """The cursor, checked against the chain (created on the first run)."""
        chain_id = self.extractor.chain_id()
        genesis = self.extractor.header(0)
        if genesis is None:
            raise ChainUnavailableError(f"{self.rpc_url} has no genesis block")
        cursor = self.cursor()
        if cursor is None:
            before = self.extractor.header(self.start_block - 1) if self.start_block > 0 else None
            if self.start_block > 0 and before is None:
                raise ChainResetError(
                    reset_message(
                        self.rpc_url,
                        f"the deployment starts at block {self.start_block}, past its head",
                    )
                )
            cursor = init_cursor(
                self.engine, chain_id, genesis.hash, before, contracts_json(self.contracts)
            )
        check_same_chain(self.rpc_url, cursor, chain_id, genesis.hash)
        if cursor.contracts != contracts_json(self.contracts):
            cursor = self._adopt_contracts(cursor)
        return cursor

    def _adopt_contracts(self, cursor: CursorState) -> CursorState:
        """Index a deployment that gained contracts since the index began (a city upgraded
        with the PaymentRouter): rewind to the block before the earliest new contract was
        deployed, so its events are read from the start, in chain order with the others."""
        wanted = json.loads(contracts_json(self.contracts))
        known: dict[str, str] = json.loads(cursor.contracts) if cursor.contracts else {}
        changed = sorted(
            name for name, address in known.items() if wanted.get(name, address) != address
        )
        removed = sorted(set(known) - set(wanted))
        if changed or removed:
            raise IndexerError(
                "the deployment manifest does not describe the contracts this index was built "
                f"from ({', '.join(changed + removed)} moved or gone): it is another deployment. "
                "Nothing was written; re-index with `cityledger index --reset`."
            )
        added = sorted(set(wanted) - set(known))
        first = min(self.deployed_at.get(name, self.start_block) for name in added)
        target = max(first - 1, self.start_block - 1)
        if target >= cursor.block_number:
            state = dataclasses.replace(cursor, contracts=contracts_json(self.contracts))
            with write_transaction(self.engine) as connection:
                if read_cursor(connection, lock=True) != cursor:
                    raise CursorMovedError("the cursor moved while adding contracts")
                write_cursor(connection, state)
            self.log.info("contracts_added", contracts=added, from_block=first)
            return state
        ancestor = (
            Ancestor(target, self._stored_hash(target))
            if target >= 0
            else Ancestor(-1, "0x" + "00" * 32)
        )
        result = rollback(self.engine, ancestor, cursor, contracts_json(self.contracts))
        self.log.warning(
            "contracts_added_rewinding",
            contracts=added,
            from_block=first,
            blocks_rewound=result.depth,
            events_removed=result.events_removed,
        )
        after = self.cursor()
        assert after is not None
        return after

    def _stored_hash(self, number: int) -> str:
        block = table("block")
        with self.engine.connect() as connection:
            stored = connection.execute(
                select(block.c.hash).where(block.c.number == number)
            ).scalar()
        if stored is not None:
            return str(stored)
        header = self.extractor.header(number)
        if header is None:
            raise IndexerError(f"block {number} is not on the chain")
        return header.hash

    def run_once(self, report: Callable[[int, int], None] | None = None) -> RunStats:
        """Index everything up to ``head - confirmations``; safe to call any number of times.
        ``report(blocks_done, blocks_to_do)`` hears of each batch written."""
        started = time.perf_counter()
        stats = RunStats()
        cursor = self._start()
        retries = 0
        while True:
            try:
                cursor = self._catch_up(cursor, stats, report)
                break
            except CursorMovedError as exc:
                retries += 1
                if retries > MAX_RETRIES_PER_RUN:
                    raise
                if isinstance(exc, ParentMismatchError):
                    cursor = self._resolve_reorg(cursor, stats)
                else:
                    self.log.warning("cursor_moved", detail=str(exc))
                    cursor = self._start()
        stats.seconds = time.perf_counter() - started
        stats.cursor = cursor.block_number
        return stats

    def _catch_up(
        self,
        cursor: CursorState,
        stats: RunStats,
        report: Callable[[int, int], None] | None = None,
    ) -> CursorState:
        head = self.extractor.head()
        stats.head = head
        if cursor.block_number >= 0:
            current = (
                self.extractor.header(cursor.block_number) if cursor.block_number <= head else None
            )
            if current is None or current.hash != cursor.block_hash:
                raise ParentMismatchError(
                    f"the indexed block {cursor.block_number} is no longer the chain's"
                )
        target = head - self.confirmations
        ranges = [
            (start, min(start + self.batch_blocks - 1, target))
            for start in range(cursor.block_number + 1, target + 1, self.batch_blocks)
        ]
        if not ranges:
            return cursor
        # Read (and decode) the next batch while this one is written: the node's work and the
        # database's overlap. The reader has its own connection; a batch that no longer
        # extends the cursor is refused by load_batch, so reading ahead is always safe.
        with ThreadPoolExecutor(1, thread_name_prefix="index-reader") as reader:
            upcoming: Future[tuple[Batch, list[DecodedEvent]]] = reader.submit(
                self._read, *ranges[0]
            )
            for number, (start, end) in enumerate(ranges):
                batch_started = time.perf_counter()
                batch, events = upcoming.result()
                if number + 1 < len(ranges):
                    upcoming = reader.submit(self._read, *ranges[number + 1])
                if batch.parent_hash != cursor.block_hash:
                    upcoming.cancel()
                    raise ParentMismatchError(f"block {start} does not extend the indexed chain")
                result = load_batch(self.engine, batch, events, expected=cursor)
                cursor = result.cursor
                if report is not None:
                    first = ranges[0][0]
                    report(cursor.block_number - first + 1, target - first + 1)
                elapsed = time.perf_counter() - batch_started
                stats.blocks += result.blocks
                stats.events += result.events
                stats.batches += 1
                self.log.info(
                    "batch_indexed",
                    blocks=f"{start}..{end}",
                    events=result.events,
                    seconds=round(elapsed, 3),
                    events_per_s=round(result.events / elapsed) if elapsed > 0 else 0,
                    lag=head - cursor.block_number,
                )
        return cursor

    def _read(self, start: int, end: int) -> tuple[Batch, list[DecodedEvent]]:
        """Blocks ``start..end`` read and decoded (on the reader thread)."""
        batch = self.reader.fetch(start, end)
        return batch, self.decoder.decode_all(batch.logs)

    def _resolve_reorg(self, cursor: CursorState, stats: RunStats) -> CursorState:
        head = self.extractor.head()
        ancestor = find_common_ancestor(
            self.engine, self.extractor, cursor, head, self.max_reorg_depth, self.start_block
        )
        result = rollback(self.engine, ancestor, cursor)
        stats.reorgs += 1
        self.log.warning(
            "reorg_rolled_back",
            from_block=cursor.block_number,
            to_block=ancestor.number,
            depth=result.depth,
            events_removed=result.events_removed,
            events_replayed=result.events_replayed,
        )
        after = self.cursor()
        assert after is not None
        return after

    def _await_node(self, stop_event: threading.Event, limit: float) -> None:
        """Wait up to ``limit`` seconds for the node to answer again, probing it cheaply."""
        deadline = time.monotonic() + limit
        while not stop_event.wait(min(PROBE_INTERVAL, max(0.0, deadline - time.monotonic()))):
            if time.monotonic() >= deadline:
                return
            try:
                self.extractor.head()
            except ChainError:
                continue
            self.log.info("chain_reachable_again")
            return

    def follow(self, stop_event: threading.Event, poll_interval: float = 1.0) -> None:
        """Index, then keep following the head until ``stop_event`` is set. A chain that is
        unreachable or refuses reads is retried with backoff; a chain reset stops with
        ChainResetError (an IndexerError, not a ChainError).

        While an unreachable node is waited for, it is probed (``eth_blockNumber``) every
        ``PROBE_INTERVAL``: indexing resumes as soon as it answers, not when the backoff (up
        to 30 s) runs out. The backoff paces the retries of a node that answers but refuses
        the reads, and the warnings."""
        backoff = poll_interval
        while not stop_event.is_set():
            try:
                stats = self.run_once()
            except ChainError as exc:  # unreachable, or refusing reads: try again later
                self.log.warning("chain_error", error=str(exc), retry_in=backoff)
                if isinstance(exc, ChainUnavailableError):
                    self._await_node(stop_event, backoff)
                else:
                    stop_event.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            backoff = poll_interval
            if stats.batches:
                self.log.info(
                    "caught_up",
                    cursor=stats.cursor,
                    head=stats.head,
                    lag=stats.lag,
                    events=stats.events,
                    events_per_s=round(stats.events_per_second),
                )
            stop_event.wait(poll_interval)
