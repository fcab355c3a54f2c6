"""The node's configuration: a genesis file in the geth/Besu shape plus runtime options.

The genesis file fixes what every node of the chain must agree on (chain id, gas limit,
allocations) and carries the node's defaults for block period, batch size and the initial
account allowlist; command-line options may override the runtime ones.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from eth_typing import ChecksumAddress
from eth_utils import is_address, to_checksum_address
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from ledger.exceptions import ConfigError

DEFAULT_CHAIN_ID = 44051
"""044 is Sejong's telephone area code and 5-1 the pilot life zone."""

DEFAULT_GAS_LIMIT = 1_000_000_000
DEFAULT_CONTRACT_SIZE_LIMIT = 24_576
DEFAULT_RPC_GAS_CAP = 25_000_000
"""Half of geth's 50 M: at py-evm's pace a 50 M-gas loop ran ~2 minutes here. Above what the
city's own calls carry (a 200-grant reward batch, 20.15 M) and EIP-7825's 16.8 M per-transaction
cap; the time budget is what binds for slow code."""
DEFAULT_MAX_TX_SIZE = 128 * 1024
"""geth's txMaxSize: a transaction's signed bytes. Gas is free here, so calldata is the cheapest
way to grow every node's store; 128 KiB still carries a deployment of the largest contract the
default size limit allows (initcode up to twice it)."""
DEFAULT_SENDER_BYTES_PER_SECOND = 256 * 1024
"""What one sender may add to the pool, sustained: ~400 relayed payments a second (~600 bytes
each; the payment operator relays them all), 40× the whole city's evening peak of 10 a second."""
DEFAULT_SENDER_BURST_BYTES = 1024 * 1024
"""What one sender may add at once: the city's contracts deploy in ~60 KB, a full-size
transaction is 128 KiB."""
_INITCODE_ENVELOPE = 1024
"""Room for a deployment's other fields (nonce, gas, fees, signature, access list) beside the
initcode when checking that ``maxTxSize`` can carry one."""


def _to_int(value: Any) -> Any:
    """Accept ints, decimal strings and 0x-hex strings, as genesis files in the wild do."""
    if isinstance(value, str):
        text = value.strip().lower()
        try:
            return int(text, 16) if text.startswith("0x") else int(text)
        except ValueError:
            raise ValueError(f"not an integer: {value!r}") from None
    return value


def _to_bytes(value: Any) -> Any:
    if isinstance(value, str):
        text = value[2:] if value.startswith(("0x", "0X")) else value
        try:
            return bytes.fromhex(text)
        except ValueError:
            raise ValueError(f"not hex data: {value!r}") from None
    return value


def _to_address(value: Any) -> ChecksumAddress:
    if not isinstance(value, str) or not is_address(value):
        raise ValueError(f"not an address: {value!r}")
    return to_checksum_address(value)


Quantity = Annotated[int, BeforeValidator(_to_int), Field(ge=0)]
HexBytes = Annotated[bytes, BeforeValidator(_to_bytes)]
Address = Annotated[ChecksumAddress, BeforeValidator(_to_address)]


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class Allocation(_Model):
    """One pre-funded account (or predeployed contract) in the genesis state."""

    balance: Quantity = 0
    nonce: Quantity = 0
    code: HexBytes = b""
    storage: dict[str, Quantity] = Field(default_factory=dict)


class ChainParams(_Model):
    """The ``config`` block: chain rules and the node's default runtime settings."""

    chain_id: Annotated[int, BeforeValidator(_to_int), Field(gt=0)] = DEFAULT_CHAIN_ID
    block_period_seconds: float = Field(default=0.1, ge=0, le=60)
    max_batch_size: int = Field(default=500, gt=0, le=20_000)
    contract_size_limit: int = Field(default=DEFAULT_CONTRACT_SIZE_LIMIT, gt=0)
    max_nonce_gap: int = Field(default=64, ge=0)
    max_tx_size: int = Field(default=DEFAULT_MAX_TX_SIZE, gt=0)
    sender_bytes_per_second: int = Field(default=DEFAULT_SENDER_BYTES_PER_SECOND, ge=0)
    """0 turns the per-sender admission rate off."""
    sender_burst_bytes: int = Field(default=DEFAULT_SENDER_BURST_BYTES, gt=0)

    @model_validator(mode="after")
    def _limits_fit(self) -> ChainParams:
        initcode = 2 * self.contract_size_limit + _INITCODE_ENVELOPE
        if self.max_tx_size < initcode:
            raise ValueError(
                f"maxTxSize {self.max_tx_size} cannot carry a deployment that contractSizeLimit "
                f"{self.contract_size_limit} allows (initcode up to twice it, {initcode} bytes "
                "with the other fields); raise maxTxSize"
            )
        check_sender_allowance(
            self.max_tx_size, self.sender_bytes_per_second, self.sender_burst_bytes
        )
        return self


class GenesisConfig(_Model):
    """A genesis file: ``config`` plus header fields, ``alloc`` and ``allowlist``."""

    config: ChainParams = Field(default_factory=ChainParams)
    gas_limit: Quantity = DEFAULT_GAS_LIMIT
    timestamp: Quantity = 0
    extra_data: HexBytes = b""
    coinbase: Address = to_checksum_address("0x" + "00" * 20)
    alloc: dict[Address, Allocation] = Field(default_factory=dict)
    allowlist: list[Address] = Field(default_factory=list)

    @field_validator("gas_limit")
    @classmethod
    def _gas_limit_sane(cls, value: int) -> int:
        if value < 30_000_000:
            raise ValueError("gasLimit must be at least 30,000,000 for a free-gas chain")
        return value

    @classmethod
    def load(cls, path: Path) -> GenesisConfig:
        """Read and validate a genesis file, turning every problem into one ConfigError."""
        try:
            raw = json.loads(path.read_text())
        except OSError as exc:
            raise ConfigError(f"cannot read genesis file {path}: {exc.strerror}") from exc
        except json.JSONDecodeError as exc:
            raise ConfigError(f"genesis file {path} is not valid JSON: {exc}") from exc
        try:
            return cls.model_validate(raw)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
            )
            raise ConfigError(f"genesis file {path} is invalid: {problems}") from exc

    def dump(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")

    def to_json(self) -> dict[str, Any]:
        """The file form: hex quantities for header fields, like geth and Besu genesis files."""
        return {
            "config": self.config.model_dump(by_alias=True),
            "gasLimit": hex(self.gas_limit),
            "timestamp": hex(self.timestamp),
            "extraData": "0x" + self.extra_data.hex(),
            "coinbase": self.coinbase,
            "alloc": {
                address: {
                    "balance": hex(alloc.balance),
                    **({"nonce": hex(alloc.nonce)} if alloc.nonce else {}),
                    **({"code": "0x" + alloc.code.hex()} if alloc.code else {}),
                    **(
                        {"storage": {k: hex(v) for k, v in alloc.storage.items()}}
                        if alloc.storage
                        else {}
                    ),
                }
                for address, alloc in self.alloc.items()
            },
            "allowlist": list(self.allowlist),
        }


class NodeOptions(BaseModel):
    """Runtime options of one node process (defaults come from the genesis ``config``)."""

    model_config = ConfigDict(extra="forbid")

    data_dir: Path
    host: str = "127.0.0.1"
    port: int = Field(default=8545, ge=0, le=65535)
    block_period: float = Field(default=0.1, ge=0, le=60)
    max_batch_size: int = Field(default=500, gt=0, le=20_000)
    max_nonce_gap: int = Field(default=64, ge=0)
    max_tx_size: int = Field(default=DEFAULT_MAX_TX_SIZE, gt=0)
    sender_bytes_per_second: int = Field(default=DEFAULT_SENDER_BYTES_PER_SECOND, ge=0)
    sender_burst_bytes: int = Field(default=DEFAULT_SENDER_BURST_BYTES, gt=0)
    max_pool_size: int = Field(default=50_000, gt=0)
    max_request_bytes: int = Field(default=5 * 1024 * 1024, gt=0)
    max_batch_requests: int = Field(default=1_000, gt=0)
    rpc_gas_cap: int = Field(default=DEFAULT_RPC_GAS_CAP, gt=21_000)
    """Most gas one ``eth_call``/``eth_estimateGas`` may use (Besu's ``rpc-gas-cap``)."""
    rpc_call_timeout: float = Field(default=5.0, gt=0)
    """Seconds one call or estimate may run (geth's ``rpc.evmtimeout``)."""
    rpc_batch_call_budget: float = Field(default=10.0, gt=0)
    """Seconds the calls and estimates of one JSON-RPC batch may run in all."""
    max_log_block_range: int = Field(default=10_000, gt=0)
    max_log_results: int = Field(default=10_000, gt=0)
    fsync: bool = True
    max_clock_drift: float = Field(default=60.0, ge=0)
    """How far (s) block timestamps may run ahead of the wall clock before sealing waits."""
    admin_token: str | None = None

    @model_validator(mode="after")
    def _allowance_fits(self) -> NodeOptions:
        check_sender_allowance(
            self.max_tx_size, self.sender_bytes_per_second, self.sender_burst_bytes
        )
        return self


def check_sender_allowance(max_tx_size: int, per_second: int, burst: int) -> None:
    """A burst smaller than the largest transaction would refuse that transaction forever."""
    if per_second and burst < max_tx_size:
        raise ValueError(
            f"senderBurstBytes {burst} is below maxTxSize {max_tx_size}: a transaction of the "
            "largest allowed size could never be admitted"
        )
