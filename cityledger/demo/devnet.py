"""A ready-to-use development chain: genesis plus demo accounts in encrypted keystores.

``cityledger up`` calls this on first start of a data directory. Keys are generated fresh on each
machine and stored only as Ethereum keystore v3 files; their password is generated too and kept
in a mode-0600 file beside them (a demo convenience, like Besu's ``--password-file``). Demo keys
use a light scrypt cost so `make up` starts in seconds; real keys use ledger.keys' standard.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from eth_typing import ChecksumAddress

from ledger.keys import KeyStore, write_private
from ledger.node.config import ChainParams, GenesisConfig

DEMO_ROLES = (
    "admin",
    "treasury",
    "registrar",
    "merchant-admin",
    "payment-service",
    "resident-1",
    "resident-2",
    "resident-3",
    "merchant-1",
    "merchant-2",
    "city-service",
    "election-admin",
    "trustee-1",
    "trustee-2",
    "trustee-3",
)
DEMO_ETHER = 1_000 * 10**18
"""Native balance for demo accounts, so that clients that insist on a 1-wei tip still work."""

KEYSTORE_DIR = "keystore"
PASSWORD_FILE = "demo-password"
GENESIS_FILE = "genesis.json"
ADMIN_TOKEN_FILE = "node-admin-token"


@dataclass(frozen=True, slots=True)
class DemoAccount:
    alias: str
    address: ChecksumAddress


def init_devnet(
    data_dir: Path, *, scrypt_n: int = 2**14
) -> tuple[GenesisConfig, list[DemoAccount]]:
    """Create (once) or load the dev chain's genesis and demo accounts in ``data_dir``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    genesis_path = data_dir / GENESIS_FILE
    keystore = data_dir / KEYSTORE_DIR
    if genesis_path.exists():
        return GenesisConfig.load(genesis_path), _read_accounts(keystore)
    password = secrets.token_urlsafe(24)
    write_private(data_dir / PASSWORD_FILE, password)
    keys = KeyStore(keystore)
    accounts = [
        DemoAccount(alias, keys.create(alias, password, scrypt_n=scrypt_n)) for alias in DEMO_ROLES
    ]
    genesis = GenesisConfig(
        config=ChainParams(),
        timestamp=int(time.time()),
        alloc={a.address: {"balance": DEMO_ETHER} for a in accounts},
        allowlist=[a.address for a in accounts],
    )
    genesis.dump(genesis_path)
    return genesis, accounts


def _read_accounts(keystore: Path) -> list[DemoAccount]:
    keys = KeyStore(keystore)
    found = [DemoAccount(alias, keys.address(alias)) for alias in keys.aliases()]
    order = {alias: i for i, alias in enumerate(DEMO_ROLES)}
    return sorted(found, key=lambda a: order.get(a.alias, len(order)))


def admin_token(data_dir: Path) -> str:
    """The dev node's admin-API token (for perm_* calls), made once, kept mode 0600."""
    path = data_dir / ADMIN_TOKEN_FILE
    if not path.exists():
        write_private(path, secrets.token_urlsafe(32))
    return path.read_text().strip()
