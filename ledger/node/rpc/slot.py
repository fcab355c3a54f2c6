"""The execution slot: one long read at a time, served in turns.

Long reads (calls, estimates, log scans, full blocks) run on worker threads, but only one at a
time: more threads would only fight over the GIL (measured: eight concurrent wallets made 14
tx/s with a thread per call, 16 with one worker). With a plain lock, though, whoever held it
held it to the end: one unauthenticated 12 M-gas ``eth_call`` made a ``balanceOf`` wait 30.5 s
instead of 0.03 s. So a budgeted execution offers the slot back at its checkpoints (see
``ledger.node.budget``): once it has held the slot for a turn and someone is waiting, it goes to
the back of the queue. A cheap call then waits for at most one turn per execution ahead of it,
not for the executions to end. Reads that cannot offer (log scans, blocks) are bounded by their
own limits.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

TURN = 0.02
"""Seconds an execution keeps the slot while others wait (a cheap call takes a few ms)."""


class Turn:
    """One holder's claim on the slot; ``since`` is when it last got it."""

    __slots__ = ("since",)

    def __init__(self) -> None:
        self.since = 0.0


class ExecutionSlot:
    """A first-come, first-served lock whose holder may step back to let waiters run."""

    def __init__(self, turn: float = TURN) -> None:
        self._turn = turn
        self._changed = threading.Condition()
        self._queue: deque[Turn] = deque()
        self._holder: Turn | None = None

    @contextmanager
    def hold(self) -> Iterator[Turn]:
        """Wait for the slot (in arrival order) and hold it for the block."""
        turn = Turn()
        self._enter(turn)
        try:
            yield turn
        finally:
            self._leave(turn)

    def take_turns(self, turn: Turn) -> None:
        """Called by the holder at its checkpoints: after a turn, let waiters go first."""
        if not self._queue or time.monotonic() - turn.since < self._turn:
            return  # reading the deque unlocked is safe: a stale answer costs one checkpoint
        self._leave(turn)
        self._enter(turn)

    @property
    def waiting(self) -> int:
        return len(self._queue)

    def _enter(self, turn: Turn) -> None:
        with self._changed:
            self._queue.append(turn)
            while self._holder is not None or self._queue[0] is not turn:
                self._changed.wait()
            self._queue.popleft()
            self._holder = turn
            turn.since = time.monotonic()

    def _leave(self, turn: Turn) -> None:
        with self._changed:
            if self._holder is turn:
                self._holder = None
                self._changed.notify_all()
