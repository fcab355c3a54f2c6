"""Projections: what each domain derives from its events, and the one way events reach them.

A domain that keeps derived tables (:attr:`ledger.domains.Domain.projection`) names a
:class:`Projection` subclass. For each run of events (a live batch, or the replay after a
rollback) :func:`apply_events` gives every projection the events it handles, in chain order:
the projection loads the rows those events touch, applies each event in memory, and writes the
result in bulk, inside the caller's transaction. Two kinds of tables:

* append-only (one row per event, with its ``block_number``): a rollback deletes the rows above
  the common ancestor;
* mutable (rows updated in place): a rollback empties them (:meth:`Projection.reset`) and the
  kept events are replayed through the same projection.

Projections that share a table (the core and payments both move ``balance``) only ever add
deltas to it, so their order does not matter.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar

from sqlalchemy import Connection, delete

from ledger.indexer.db import table
from ledger.indexer.decode import DecodedEvent
from ledger.indexer.sql import upsert


class Projection(ABC):
    """The derived changes of one domain over a run of events, gathered, then written."""

    handlers: ClassVar[Mapping[tuple[str, str], Callable[[Any, DecodedEvent, int], None]]]
    """(contract, event) → ``handler(self, event, block_timestamp)``."""
    append_only: ClassVar[tuple[str, ...]] = ()
    mutable: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def __init__(self, connection: Connection, events: Sequence[DecodedEvent]) -> None:
        """Load the rows ``events`` will change."""

    @abstractmethod
    def write(self, connection: Connection, *, append: bool) -> None:
        """Write the gathered changes (``append=False``: a replay, whose append-only rows are
        still there)."""

    @classmethod
    def reset(cls, connection: Connection) -> None:
        """Forget the mutable tables before a replay rebuilds them."""
        for name in cls.mutable:
            connection.execute(delete(table(name)))


@dataclass
class _BalanceDelta:
    amount: int = 0
    points: int = 0
    block: int = -1


@dataclass
class BalanceDeltas:
    """Changes to ``balance`` rows (token amount, points earned), as deltas: projections of
    different domains add to the same rows."""

    rows: dict[str, _BalanceDelta] = field(default_factory=dict)

    def add(self, address: str, block: int, *, amount: int = 0, points: int = 0) -> None:
        delta = self.rows.setdefault(address, _BalanceDelta())
        delta.amount += amount
        delta.points += points
        delta.block = block

    def write(self, connection: Connection) -> None:
        balance = table("balance")
        upsert(
            connection,
            balance,
            [
                {"address": a, "balance": d.amount, "points": d.points, "updated_block": d.block}
                for a, d in sorted(self.rows.items())
            ],
            ["address"],
            lambda s: {
                "balance": balance.c.balance + s.excluded.balance,
                "points": balance.c.points + s.excluded.points,
                "updated_block": s.excluded.updated_block,
            },
        )


@cache
def projections() -> tuple[type[Projection], ...]:
    """Every domain's projection, in domain order."""
    from ledger.domains import DOMAINS
    from ledger.domains.spec import load

    return tuple(load(d.projection) for d in DOMAINS if d.projection is not None)


@cache
def deriving_events() -> frozenset[tuple[str, str]]:
    """The events some projection handles; the others are only stored in ``event``."""
    return frozenset(key for p in projections() for key in p.handlers)


@cache
def append_only_tables() -> tuple[str, ...]:
    return tuple(name for p in projections() for name in p.append_only)


def apply_events(
    connection: Connection,
    events: Sequence[DecodedEvent],
    timestamps: Mapping[int, int],
    *,
    append: bool,
) -> None:
    """Apply ``events`` (in chain order) to every projection's tables."""
    for kind in projections():
        relevant = [e for e in events if (e.contract, e.name) in kind.handlers]
        if not relevant:
            continue
        projection = kind(connection, relevant)
        for event in relevant:
            kind.handlers[event.contract, event.name](
                projection, event, timestamps[event.block_number]
            )
        projection.write(connection, append=append)


def reset_projections(connection: Connection) -> None:
    for kind in projections():
        kind.reset(connection)
