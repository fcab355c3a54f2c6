"""The defaults every CityLedger tool shares: where the chain is, which deployment, where the
local state lives.

They are here once: :class:`ledger.config.LedgerSettings` (which the API's settings nest) and
the options of both command lines take them from this module, which imports nothing, so that a
command's ``--help`` needs no settings machinery.
"""

from __future__ import annotations

from pathlib import Path

RPC_URL = "http://127.0.0.1:8545"
NETWORK = "local"
DEPLOYMENTS_DIR = Path("deployments")
DATA_DIR = Path(".cityledger")
"""The operator's local state: the index, published vote files, the dev chain of `make up`."""
KEYSTORE_DIR = DATA_DIR / "keystore"
"""The operator CLI's keystores (staff keys; the wallet keeps residents' in their home)."""
NODE_DIR = DATA_DIR / "node"
"""The embedded node's store when `cityledger node` is given no --data-dir."""
WALLET_DIR = Path("~/.cityledger")
"""A resident's wallet: keystores in ``wallet/``, settings in ``wallet.toml``."""
INDEX_BATCH_BLOCKS = 2_000
"""Blocks the indexer reads and writes in one database transaction."""
INDEX_MAX_REORG_DEPTH = 64
"""Deeper divergences are treated as a chain reset (QBFT never reorganises at all)."""
