"""JSON-RPC error codes, following Besu where it has one and the JSON-RPC 2.0 spec otherwise.

Only the RPC layer uses these: the node core raises domain errors (``ledger.node.errors``) and
``rpc.errors`` maps them here.
"""

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603

# Besu's transaction-pool rejections (JsonRpcError in besu/ethereum/api).
NONCE_TOO_LOW = -32001
INVALID_SIGNATURE = -32002
INTRINSIC_GAS_TOO_LOW = -32003
INSUFFICIENT_FUNDS = -32004
EXCEEDS_BLOCK_GAS_LIMIT = -32005
NONCE_TOO_HIGH = -32006
SENDER_NOT_AUTHORIZED = -32007
ALREADY_KNOWN = -32000
WRONG_CHAIN_ID = -32000
POOL_FULL = -32000
UNSUPPORTED_TX_TYPE = -32000
OVERSIZED_DATA = -32000
"""geth's "oversized data" (core/txpool.ErrOversizedData) comes back as a plain -32000."""
SERVER_ERROR = -32000

# geth/EIP-1474: a call or estimate that reverted carries the revert data in "data".
EXECUTION_REVERTED = 3
LIMIT_EXCEEDED = -32005
UNAUTHORIZED = -32000
RESOURCE_NOT_FOUND = -32001
