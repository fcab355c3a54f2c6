"""CityLedger hashes with safe-pysha3, not pycryptodome (see ledger/__init__.py)."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = """
import ledger.node.node  # what `cityledger node` imports first: package init, then py-evm
from eth_hash.auto import keccak
assert keccak(b"").hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
print(type(keccak._backend.keccak256.__self__).__name__)
"""


def _backend(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k != "ETH_HASH_BACKEND"} | env
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=clean, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_the_fast_backend_is_chosen_on_import() -> None:
    assert _backend() == "PySha3Backend"


def test_an_explicit_choice_still_wins() -> None:
    assert _backend(ETH_HASH_BACKEND="pycryptodome") == "CryptodomeBackend"
