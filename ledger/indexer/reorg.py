"""Reorg and chain-reset handling.

Every batch must extend the indexed chain: its first block's parent hash must be the hash the
cursor stored (:func:`ledger.indexer.load.load_batch` checks it inside the batch's
transaction), and each run first checks the cursor's block is still the chain's. When it is not:

1. :func:`find_common_ancestor` walks back over the stored block hashes, comparing them with the
   chain's (a JSON-RPC batch per step), to the highest block both agree on;
2. :func:`rollback` deletes, in ONE transaction, the append-only rows above it (blocks, events,
   transfers, refunds) and rebuilds the mutable derived tables (accounts, balances, payments,
   invoice states, redemptions, supply) by replaying the kept events through the same
   :func:`~ledger.indexer.load.apply_events` a live batch uses, then moves the cursor back.

Replaying everything is O(events), not O(reorg depth). That is deliberate: on the city's QBFT
chain a block is final once sealed, so a reorg only happens on dev and test chains (anvil), and
a rebuild that is obviously the same computation as indexing from scratch is worth more than a
fast, subtle undo log. Correctness over speed.

A *chain reset* is not a reorg: the genesis differs from the cursor's, or the chain is more than
``max_depth`` blocks shorter than the index, or no stored block within ``max_depth`` of the
cursor is still on the chain (a dev chain restarted from the same genesis). Then
:class:`~ledger.indexer.errors.ChainResetError` is raised before anything is written.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, delete, or_, select

from ledger.indexer.db import table, write_transaction
from ledger.indexer.decode import DecodedEvent
from ledger.indexer.errors import ChainResetError, CursorMovedError
from ledger.indexer.extract import Extractor
from ledger.indexer.load import CursorState, read_cursor, write_cursor
from ledger.indexer.projection import (
    append_only_tables,
    apply_events,
    deriving_events,
    reset_projections,
)

WALK_STEP = 64
"""Stored blocks compared with the chain per JSON-RPC batch while walking back."""
REPLAY_CHUNK = 20_000
"""Events replayed per step when rebuilding the mutable tables."""


@dataclass(frozen=True)
class Ancestor:
    number: int
    hash: str


@dataclass(frozen=True)
class RollbackResult:
    ancestor: Ancestor
    depth: int
    events_removed: int
    events_replayed: int


def reset_message(url: str, detail: str) -> str:
    return (
        f"the chain at {url} is not the chain this index was built from: {detail}. "
        "The chain was probably reset (a new dev node or genesis). Nothing was written. "
        "Re-index it with `cityledger index --reset` (drops the index tables), or point "
        "--db-url at another database."
    )


def check_same_chain(url: str, cursor: CursorState, chain_id: int, genesis_hash: str) -> None:
    if chain_id != cursor.chain_id:
        raise ChainResetError(
            reset_message(url, f"it serves chain id {chain_id}, the index chain {cursor.chain_id}")
        )
    if genesis_hash != cursor.genesis_hash:
        raise ChainResetError(
            reset_message(
                url, f"its genesis block is {genesis_hash}, the index's {cursor.genesis_hash}"
            )
        )


def find_common_ancestor(
    engine: Engine,
    extractor: Extractor,
    cursor: CursorState,
    head: int,
    max_depth: int,
    start_block: int = 0,
) -> Ancestor:
    """The highest indexed block the chain still has. ChainResetError if none is within
    ``max_depth`` blocks of the cursor, or the first indexed block (``start_block``: where the
    contracts were deployed) is itself gone."""
    url = extractor.rpc.url
    if head < cursor.block_number - max_depth:
        raise ChainResetError(
            reset_message(
                url,
                f"its head is block {head}, {cursor.block_number - head} blocks below the "
                f"indexed block {cursor.block_number} (more than the {max_depth}-block reorg "
                "limit)",
            )
        )
    block = table("block")
    below = min(cursor.block_number, head)
    floor = max(cursor.block_number - max_depth, start_block, 0)
    while below >= floor:
        with engine.connect() as connection:
            stored = connection.execute(
                select(block.c.number, block.c.hash)
                .where(block.c.number <= below, block.c.number >= floor)
                .order_by(block.c.number.desc())
                .limit(WALK_STEP)
            ).all()
        if not stored:
            break
        chain = extractor.headers([number for number, _ in stored])
        for (number, stored_hash), header in zip(stored, chain, strict=True):
            if header is not None and header.hash == stored_hash:
                return Ancestor(number, stored_hash)
        below = stored[-1][0] - 1
    raise ChainResetError(
        reset_message(
            url,
            f"none of the indexed blocks {floor}..{cursor.block_number} is on it (a "
            f"divergence deeper than the {max_depth}-block reorg limit, or below the block "
            f"{start_block} where the contracts were deployed)",
        )
    )


def rollback(
    engine: Engine, ancestor: Ancestor, expected: CursorState, contracts: str | None = None
) -> RollbackResult:
    """Undo everything above ``ancestor`` in one transaction (see the module docstring);
    ``contracts`` replaces the cursor's set of indexed contracts if given."""
    with write_transaction(engine) as connection:
        cursor = read_cursor(connection, lock=True)
        if cursor != expected:
            raise CursorMovedError("the cursor moved while the reorg was being resolved")
        removed = 0
        for name in ("event", *append_only_tables()):
            t = table(name)
            result = connection.execute(delete(t).where(t.c.block_number > ancestor.number))
            if name == "event":
                removed = result.rowcount
        block = table("block")
        connection.execute(delete(block).where(block.c.number > ancestor.number))
        replayed = rebuild_derived(connection)
        state = cursor.at(ancestor.number, ancestor.hash)
        if contracts is not None:
            state = dataclasses.replace(state, contracts=contracts)
        write_cursor(connection, state)
    return RollbackResult(ancestor, expected.block_number - ancestor.number, removed, replayed)


def rebuild_derived(connection: Connection) -> int:
    """Empty the mutable derived tables (each projection's :meth:`reset`; the payments one
    keeps the API's invoice rows, open again) and replay every stored event that feeds them.
    Returns the number of events replayed.
    """
    reset_projections(connection)
    event = table("event")
    wanted = or_(
        *(
            (event.c.contract == contract) & (event.c.name == name)
            for contract, name in sorted(deriving_events())
        )
    )
    replayed, after = 0, (-1, -1)
    while True:
        rows = connection.execute(
            select(
                event.c.block_number,
                event.c.block_hash,
                event.c.tx_hash,
                event.c.log_index,
                event.c.contract,
                event.c.address,
                event.c.name,
                event.c.args,
                event.c.timestamp,
            )
            .where(
                wanted,
                or_(
                    event.c.block_number > after[0],
                    (event.c.block_number == after[0]) & (event.c.log_index > after[1]),
                ),
            )
            .order_by(event.c.block_number, event.c.log_index)
            .limit(REPLAY_CHUNK)
        ).all()
        if not rows:
            return replayed
        events = [
            DecodedEvent(r[0], r[1], r[2], r[3], r[4], r[5], r[6], json.loads(r[7])) for r in rows
        ]
        timestamps = {r[0]: r[8] for r in rows}
        apply_events(connection, events, timestamps, append=False)
        replayed += len(rows)
        after = (rows[-1][0], rows[-1][3])
