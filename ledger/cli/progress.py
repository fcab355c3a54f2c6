"""Progress of long commands: a bar on a terminal, nothing otherwise.

A person at a terminal waiting for an index catch-up, an audit or a large genesis wants to see
what is being done, how far it is and how fast it goes; a script (``--json``, or output that is
not a terminal) wants nothing but its result. The library reports progress through plain
callbacks, ``report(done, total)``; this module turns them into a rich bar on stderr, or into
nothing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Report = Callable[[int, int], None]
"""``report(done, total)``: how far a piece of work is (``total`` may grow as it runs)."""


def _ignore(_done: int, _total: int) -> None:
    """Progress nobody watches."""


@contextmanager
def progress_bar(what: str, unit: str, *, quiet: bool = False) -> Iterator[Report]:
    """A :data:`Report` drawing ``what`` as a bar with ``done/total unit`` and the rate, while
    the block runs; a no-op when ``quiet`` (``--json``) or stderr is not a terminal."""
    if quiet or not sys.stderr.isatty():
        yield _ignore
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )
    tasks: list[TaskID] = []  # made at the first report: work that needs none draws nothing

    def report(done: int, total: int) -> None:
        if not tasks:
            tasks.append(bar.add_task(what, total=None, rate=""))
        task = tasks[0]
        bar.update(task, completed=done, total=max(total, done))
        speed = bar.tasks[task].speed
        bar.update(task, rate=f"{speed:,.0f} {unit}/s" if speed else "")

    with bar:
        yield report
