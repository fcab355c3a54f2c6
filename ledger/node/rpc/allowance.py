"""How much execution time one HTTP request may use: per call, and shared by a batch.

A batch used to hold up to 1,000 calls, each allowed the whole gas cap (~2 minutes of py-evm
at 50 M gas), queued back to back in the execution slot. Now each call gets the call budget
(geth's ``--rpc.evmtimeout``, 5 s by default) and the calls of one batch share the batch budget,
counted from the start of its first call; once it is spent, the batch's remaining calls are
refused at once instead of being run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ledger.node.budget import ExecutionBudget
from ledger.node.rpc import codes
from ledger.node.rpc.errors import RpcError


@dataclass(slots=True)
class ExecutionAllowance:
    """The execution time left to one request (``batch_seconds`` is None for a single one)."""

    call_seconds: float
    batch_seconds: float | None = None
    _batch_started: float | None = None

    def ensure_left(self) -> None:
        """Raise RpcError if the batch's budget is spent (checked before queueing for the slot,
        so a spent batch does not wait for a turn it cannot use)."""
        self._left(time.monotonic())

    def next_budget(self, on_checkpoint: Callable[[], None] | None = None) -> ExecutionBudget:
        """The budget of the call about to start; raises RpcError if the batch's is spent."""
        now = time.monotonic()
        left = self._left(now)
        if self.batch_seconds is not None and self._batch_started is None:
            self._batch_started = now
        seconds = self.call_seconds if left is None else min(self.call_seconds, left)
        return ExecutionBudget(now + seconds, seconds, on_checkpoint)

    def _left(self, now: float) -> float | None:
        if self.batch_seconds is None:
            return None
        if self._batch_started is None:
            return self.batch_seconds
        left = self._batch_started + self.batch_seconds - now
        if left <= 0:
            raise RpcError(
                codes.LIMIT_EXCEEDED,
                f"the batch's execution budget of {self.batch_seconds:g} s is spent: "
                "send the remaining calls in another request",
            )
        return left
