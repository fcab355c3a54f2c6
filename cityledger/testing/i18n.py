"""Finding English left in output that should be Korean.

What a Korean run may still contain in Latin letters is what docs/i18n.md keeps neutral:
addresses and hashes, references and aliases (``BANK-2026-0001``, ``resident-2``), ``₩``
amounts, paths and URLs, options (``--yes``), command lines in backticks, and a few names
(``CityLedger``, ``API``, ``JSON``, ``EIP-681``). Anything else made of two or more English
words in a row is a sentence that escaped translation.
"""

from __future__ import annotations

import re

NEUTRAL = re.compile(
    r"`[^`\n]*`"  # command lines, as the messages quote them
    r"|https?://\S+"  # URLs and payment URIs
    r"|ethereum:\S+"
    r"|0x[0-9a-fA-F]+(?:…[0-9a-fA-F]*)?"  # addresses, hashes, shortened ones
    r"|(?:~|\.{1,2})?/[\w./@~-]+"  # paths
    r"|--[a-z][a-z0-9-]*"  # options
    r"|\b[\w.-]*\d[\w.-]*\b"  # anything with a digit: references, aliases, versions, EIP-681
    r"|\b[a-z]+(?:[-_][a-z0-9]+)+\b"  # identifiers: election-admin, payment_request
)
ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")
PROPER_NAMES = frozenset(
    {"CityLedger", "Sejong", "API", "JSON", "QR", "URI", "RPC", "JSON-RPC", "SQLite", "PostgreSQL"}
)
"""Names that stay in Latin letters in Korean text too."""
ENGLISH_RUN = re.compile(r"\b[A-Za-z]{2,}(?:[ ,:;'()/-]+[A-Za-z]{2,})+\b")


def english_sentences(text: str, *, names: frozenset[str] = frozenset()) -> list[str]:
    """Runs of two or more English words in ``text`` once the neutral parts and ``names``
    (aliases, titles the test chose) are taken out."""
    text = NEUTRAL.sub(" ", ESCAPES.sub("", text))
    for name in sorted(names | PROPER_NAMES, key=len, reverse=True):
        text = re.sub(rf"\b{re.escape(name)}\b", " ", text)
    return [match.group(0) for match in ENGLISH_RUN.finditer(text)]
