"""Write one batch of blocks and decoded events, and everything derived from them, atomically.

:func:`load_batch` runs ONE database transaction: lock the cursor, check the batch extends it,
insert blocks and events, apply the derived updates, move the cursor, commit. Because the
derived updates commit together with the cursor, a crash before the commit leaves nothing of
the batch, and a batch applied again finds the cursor at or past its blocks and changes nothing
(rows are also inserted with ON CONFLICT DO NOTHING on their natural keys, so no event or
transfer is ever stored twice). Inserts are SQLAlchemy Core ``executemany``.

The derived tables are the domains' projections (:mod:`ledger.indexer.projection`):
:func:`~ledger.indexer.projection.apply_events` is the one place that turns events into derived
rows, here and in the reorg rollback, which replays kept events through it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, select

from ledger.indexer.db import table, write_transaction
from ledger.indexer.decode import DecodedEvent
from ledger.indexer.errors import CursorMovedError, ParentMismatchError
from ledger.indexer.extract import Batch, Header
from ledger.indexer.projection import apply_events
from ledger.indexer.sql import insert_ignore, upsert


@dataclass(frozen=True)
class CursorState:
    chain_id: int
    genesis_hash: str
    block_number: int
    block_hash: str
    contracts: str | None = None
    """JSON ``{name: address}`` of the contracts indexed (see :func:`contracts_json`)."""

    def at(self, number: int, block_hash: str) -> CursorState:
        return dataclasses.replace(self, block_number=number, block_hash=block_hash)


def contracts_json(contracts: Mapping[str, str]) -> str:
    """The canonical JSON of an ``address → name`` mapping, as ``{name: address}``."""
    return json.dumps(
        {name: address for address, name in sorted(contracts.items())}, sort_keys=True
    )


@dataclass(frozen=True)
class LoadResult:
    blocks: int
    events: int
    cursor: CursorState


def read_cursor(connection: Connection, *, lock: bool = False) -> CursorState | None:
    cursor = table("cursor")
    query = select(
        cursor.c.chain_id,
        cursor.c.genesis_hash,
        cursor.c.block_number,
        cursor.c.block_hash,
        cursor.c.contracts,
    ).where(cursor.c.id == 1)
    if lock and connection.dialect.name == "postgresql":
        query = query.with_for_update()
    row = connection.execute(query).first()
    return None if row is None else CursorState(*row)


def write_cursor(connection: Connection, state: CursorState) -> None:
    upsert(
        connection,
        table("cursor"),
        [
            {
                "id": 1,
                "chain_id": state.chain_id,
                "genesis_hash": state.genesis_hash,
                "block_number": state.block_number,
                "block_hash": state.block_hash,
                "updated_at": datetime.now(UTC),
                "contracts": state.contracts,
            }
        ],
        ["id"],
    )


def insert_blocks(connection: Connection, headers: Iterable[Header]) -> None:
    insert_ignore(
        connection,
        table("block"),
        [
            {
                "number": h.number,
                "hash": h.hash,
                "parent_hash": h.parent_hash,
                "timestamp": h.timestamp,
            }
            for h in headers
        ],
        ["number"],
    )


def init_cursor(
    engine: Engine,
    chain_id: int,
    genesis_hash: str,
    before_start: Header | None,
    contracts: str | None = None,
) -> CursorState:
    """Start an empty index just before the first block to index (``before_start`` is that
    block's predecessor, None when indexing starts at genesis). Returns the cursor in force:
    another indexer's, if one won the race."""
    state = CursorState(
        chain_id,
        genesis_hash,
        before_start.number if before_start else -1,
        before_start.hash if before_start else "0x" + "00" * 32,
        contracts,
    )
    with write_transaction(engine) as connection:
        existing = read_cursor(connection, lock=True)
        if existing is not None:
            return existing
        if before_start is not None:
            insert_blocks(connection, [before_start])
        write_cursor(connection, state)
    return state


def load_batch(
    engine: Engine, batch: Batch, events: Sequence[DecodedEvent], *, expected: CursorState
) -> LoadResult:
    """Apply ``batch`` (its blocks and decoded ``events``) in one transaction.

    Blocks at or below the cursor are skipped (a batch re-run after it committed changes
    nothing). Raises :class:`ParentMismatchError` if the first new block does not extend the
    indexed chain, :class:`CursorMovedError` if the cursor is not where the caller read it.
    """
    with write_transaction(engine) as connection:
        cursor = read_cursor(connection, lock=True)
        if cursor is None or (cursor.chain_id, cursor.genesis_hash, cursor.contracts) != (
            expected.chain_id,
            expected.genesis_hash,
            expected.contracts,
        ):
            raise CursorMovedError("the index was reset or re-initialised under this indexer")
        headers = [h for h in batch.headers if h.number > cursor.block_number]
        if not headers:
            return LoadResult(0, 0, cursor)
        first = headers[0]
        if first.number != cursor.block_number + 1:
            raise CursorMovedError(
                f"the batch starts at block {first.number}, the index is at {cursor.block_number}"
            )
        if first.parent_hash != cursor.block_hash:
            raise ParentMismatchError(
                f"block {first.number}'s parent {first.parent_hash} is not the indexed block "
                f"{cursor.block_number} ({cursor.block_hash})"
            )
        new_events = [e for e in events if e.block_number > cursor.block_number]
        timestamps = {h.number: h.timestamp for h in headers}
        insert_blocks(connection, headers)
        insert_events(connection, new_events, timestamps)
        apply_events(connection, new_events, timestamps, append=True)
        last = headers[-1]
        state = cursor.at(last.number, last.hash)
        write_cursor(connection, state)
    return LoadResult(len(headers), len(new_events), state)


def insert_events(
    connection: Connection, events: Sequence[DecodedEvent], timestamps: Mapping[int, int]
) -> None:
    insert_ignore(
        connection,
        table("event"),
        [
            {
                "block_number": e.block_number,
                "block_hash": e.block_hash,
                "tx_hash": e.tx_hash,
                "log_index": e.log_index,
                "timestamp": timestamps[e.block_number],
                "contract": e.contract,
                "address": e.address,
                "name": e.name,
                "args": json.dumps(e.args, separators=(",", ":")),
            }
            for e in events
        ],
        ["tx_hash", "log_index"],
    )
