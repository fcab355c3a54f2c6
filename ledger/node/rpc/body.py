"""Decode an untrusted request body into JSON without letting its shape crash the process.

py_ecc (imported by py-evm) raises the interpreter's recursion limit to 100,000 at import, and
``json.loads`` recurses in C once per nesting level: ~200 KB of ``[[[[…`` overflowed the C
stack and killed the node with SIGSEGV before Python could raise a RecursionError. So the
nesting depth is measured first, without recursion, and a body nested deeper than
:data:`MAX_DEPTH` is refused before the parser sees it.

The same goes for two inputs on which ``json.loads`` raises something other than a decode
error: integers longer than Python converts (4,300 digits) and NaN/Infinity (not JSON; echoed
back as an ``id`` they made the answer invalid JSON). Both are parse errors here.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

MAX_DEPTH = 64
"""Deepest nesting of arrays and objects a body may have. A JSON-RPC request needs about six
(batch, request, params, a filter, topics, a topic's alternatives); parsers elsewhere cap
near here too (Go's encoding/json at 10,000 levels, with a much smaller frame per level)."""

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
"""A JSON string literal: brackets inside one do not nest."""
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_CHUNK = 1 << 16


class BodyError(ValueError):
    """The body is not a JSON document the node will parse; ``str()`` says why."""


def parse_body(body: bytes) -> Any:
    """The JSON document in ``body``; raises :class:`BodyError` for anything else."""
    if nesting_exceeds(body, MAX_DEPTH):
        raise BodyError(f"request nests deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        # JSONDecodeError is a ValueError; so are too-long integers and NaN (refused below).
        raise BodyError(str(exc)) from exc


def nesting_exceeds(body: bytes, limit: int) -> bool:
    """Whether arrays/objects in ``body`` nest deeper than ``limit`` (strings skipped).

    For a body that is not valid JSON the count may be off, but only where ``json.loads``
    would stop with a syntax error first: up to the first error, both see the same strings.
    Costs a few milliseconds per megabyte, mostly in C.
    """
    brackets = _STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    if len(brackets) <= limit:
        return False  # the usual request: not even ``limit`` brackets in all
    steps = memoryview(brackets.translate(_STEPS)).cast("b")  # +1 opens, -1 closes
    depth = 0
    for start in range(0, len(steps), _CHUNK):
        levels = list(itertools.accumulate(steps[start : start + _CHUNK], initial=depth))
        if max(levels) > limit:
            return True
        depth = levels[-1]
    return False


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")
