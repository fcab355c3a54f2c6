"""Reporting: the console, the table printer, number formats, progress lines and JSON output.

Tables print with the first column left-aligned and the rest right-aligned; piped (CI logs,
``tee``) the console is ``PIPED_WIDTH`` wide, so each row of the widest table stays on one line.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[3]
MIN_WIDTH = 140
PIPED_WIDTH = 170

console = Console(width=max(Console().width, MIN_WIDTH) if sys.stdout.isatty() else PIPED_WIDTH)

SECTION = None
"""A row of ``None`` in :func:`print_table`'s rows starts a new section (a rule)."""


@dataclass
class Report:
    """What a workload hands back to the runner: its exit code and its JSON document."""

    document: dict[str, Any] = field(default_factory=dict)
    exit_code: int = 0


def fmt(value: float | None, spec: str = ",.0f", suffix: str = "", empty: str = "—") -> str:
    """``value`` in ``spec``, or ``empty`` when there is none."""
    return empty if value is None else f"{value:{spec}}{suffix}"


def ratio(value: float | None, base: float | None) -> float | None:
    return value / base if value and base else None


def verdict(value: float | None, target: float) -> str:
    """OK or MISSED against a "at least ``target`` times" goal."""
    if value is None:
        return "n/a"
    return f"{'[green]OK[/green]' if value >= target else '[red]MISSED[/red]'} (≥{target}×)"


def print_table(
    title: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[str] | None],
    *,
    caption: str | None = None,
) -> None:
    table = Table(title=title, caption=caption)
    for number, column in enumerate(columns):
        table.add_column(column, justify="left" if number == 0 else "right")
    for row in rows:
        if row is SECTION:
            table.add_section()
        else:
            table.add_row(*row)
    console.print(table)


def notes(lines: Iterable[str]) -> None:
    """Dim lines under a table: what a row means, how it was measured."""
    for line in lines:
        console.print(f"  [dim]{line}[/dim]")


def step(message: str) -> None:
    """A progress line on stderr (stdout keeps the tables)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message} …", file=sys.stderr, flush=True)


def load_average() -> tuple[float, ...]:
    return tuple(round(v, 2) for v in os.getloadavg())


def machine(loads: Mapping[str, tuple[float, ...]]) -> dict[str, Any]:
    """Where and on what the figures were measured."""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "commit": _head(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        **{f"load_{when}": values for when, values in loads.items()},
    }


def write_json(path: Path, document: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(document, indent=2, default=_jsonable) + "\n")
    console.print(f"results written to {path}")


def _jsonable(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _head() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None
