"""Commands run on a pseudo-terminal, as a person at a terminal sees them.

CliRunner hands a command pipes, so anything that only happens on a terminal (progress bars,
hidden prompts, clearing the screen) needs a real pty; pexpect gives one and lets a test answer
prompts it can only read at run time (the words a recovery-phrase check asks for).
"""

from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING

from cityledger.testing.processes import ROOT

if TYPE_CHECKING:
    import pexpect

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")
"""Colour, cursor and title sequences, and carriage returns: what a screen shows is the rest."""


def spawn(
    module: str, *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> pexpect.spawn[str]:
    """``python -m module args`` on a fresh 40 x 120 pty, with ``env`` added to ours."""
    import pexpect

    environment = {**os.environ, "COLUMNS": "120", "LINES": "40", "NO_COLOR": "1", **(env or {})}
    return pexpect.spawn(
        sys.executable,
        ["-m", module, *args],
        cwd=str(ROOT),
        env=environment,
        dimensions=(40, 120),
        encoding="utf-8",
        timeout=timeout,
    )


def screen_text(raw: str) -> str:
    """What the bytes a program wrote look like without escape sequences."""
    return ANSI.sub("", raw)
