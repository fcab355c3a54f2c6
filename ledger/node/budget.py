"""A wall-clock budget for one execution (an ``eth_call`` or a gas estimate), enforced from
inside the EVM.

py-evm runs a call to the end on the thread that started it; nothing outside can stop it. One
unauthenticated ``eth_call`` of a 12 M-gas loop held the node's execution slot for 30 s. So the
interpreter checks the budget itself: each call frame's code stream calls
:meth:`ExecutionBudget.checkpoint` every :data:`CHECK_EVERY` opcodes (``vm.BudgetedCodeStream``),
and precompiles written in pure Python, where one opcode can run for minutes (a bn128 pairing
takes ~0.5 s per pair here, and ecPairing prices a pair at 34,000 gas), run under a profile hook
that checks it between Python calls. Running out raises :class:`ExecutionTimeout`, which is not
a py-evm ``VMError``, so it unwinds every frame instead of failing one.

The budget travels in a context variable set only around RPC executions: the sealer never has
one, so blocks pay nothing for the checks and always run to completion.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from types import FrameType
from typing import Any

from ledger.node.errors import ExecutionTimeout

CHECK_EVERY = 256
"""Opcodes between checkpoints: ~0.2 ms of py-evm, ~1% of the call's time."""
_PROFILE_EVERY = 4_096
"""Python calls and returns between checkpoints inside a pure-Python precompile."""


@dataclass(slots=True)
class ExecutionBudget:
    """Run until ``deadline`` (``time.monotonic()``); ``seconds`` is what the caller asked for.

    ``on_checkpoint`` lets a scheduler take turns at each checkpoint (the RPC layer hands its
    execution slot to whoever waits); the time spent waiting counts against the deadline.
    """

    deadline: float
    seconds: float
    on_checkpoint: Callable[[], None] | None = None

    @classmethod
    def starting_now(
        cls, seconds: float, on_checkpoint: Callable[[], None] | None = None
    ) -> ExecutionBudget:
        return cls(time.monotonic() + seconds, seconds, on_checkpoint)

    def checkpoint(self) -> None:
        """Take turns if asked to, then raise :class:`ExecutionTimeout` past the deadline."""
        if self.on_checkpoint is not None:
            self.on_checkpoint()
        if time.monotonic() > self.deadline:
            raise ExecutionTimeout(self.seconds)


_current: ContextVar[ExecutionBudget | None] = ContextVar("execution_budget", default=None)


def current_budget() -> ExecutionBudget | None:
    """The budget of the execution running on this thread, if it has one."""
    return _current.get()


@contextmanager
def running_under(budget: ExecutionBudget) -> Iterator[ExecutionBudget]:
    """Executions inside this block (on this thread) are held to ``budget``."""
    token = _current.set(budget)
    try:
        yield budget
    finally:
        _current.reset(token)


@contextmanager
def checked_python(budget: ExecutionBudget) -> Iterator[None]:
    """Check ``budget`` every few thousand Python calls made inside this block (this thread).

    Costs ~25% of a pure-Python pairing's time; used only for precompiles, only under a budget.
    """
    events = 0

    def profile(_frame: FrameType, _event: str, _arg: Any) -> None:
        nonlocal events
        events += 1
        if events % _PROFILE_EVERY == 0:
            budget.checkpoint()  # an exception here propagates into the profiled code

    previous = sys.getprofile()
    sys.setprofile(profile)
    try:
        yield
    finally:
        sys.setprofile(previous)
