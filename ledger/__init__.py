"""CityLedger: a city's local currency and civic services on one permissioned EVM chain."""

import os

# eth-hash picks its Keccak backend at the first hash, taking pycryptodome when it is installed
# (eth-account needs it). pycryptodome builds a cffi object per hash: a fifth of the embedded
# node's CPU went there when profiled. safe-pysha3 (a dependency) hashes ~5x faster. This runs
# before any CityLedger module can hash; an explicit ETH_HASH_BACKEND still wins.
os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")
