"""How results reach people and programs: rich on a terminal, one JSON document with --json."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console

from ledger.types import format_krw

WIDE = 200
"""Columns for rich when stdout is not a terminal: a pipe has no width to wrap at."""


def console(*, stderr: bool = False) -> Console:
    # No markup: aliases, paths and on-chain references are printed as they are.
    made = Console(stderr=stderr, highlight=False, markup=False, soft_wrap=False)
    if not made.is_terminal:
        made.width = WIDE
    return made


def print_json(document: Any) -> None:
    """The one JSON document ``--json`` promises (UTF-8, stable key order)."""
    print(json.dumps(document, indent=2, ensure_ascii=False))


def krw(amount: int) -> str:
    return format_krw(amount)


def signed_krw(amount: int) -> str:
    return f"+{format_krw(amount)}" if amount > 0 else format_krw(amount)


def short(value: str, keep: int = 6) -> str:
    """``0x12ab…cdef`` for tx hashes in tables (addresses are shown whole)."""
    return value if len(value) <= 2 * keep + 3 else f"{value[: keep + 2]}…{value[-keep:]}"
