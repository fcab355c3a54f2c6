"""``cityledger node`` and ``genesis``: start the embedded chain.

This is the one module of the library (with the platform's ``cityledger up``, which reuses
:func:`node_options` and :func:`run_node`) that imports :mod:`ledger.node`: everything else
reaches a chain over JSON-RPC.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from ledger import defaults
from ledger.exceptions import LedgerError

if TYPE_CHECKING:
    from pydantic import ValidationError

    from ledger.logging import LogFormat
    from ledger.node.config import GenesisConfig, NodeOptions

console = Console(stderr=True)

DataDir = Annotated[
    Path, typer.Option("--data-dir", help="Directory holding the chain store and allowlist.")
]
Host = Annotated[str, typer.Option(help="Interface to serve JSON-RPC on.")]
Port = Annotated[int, typer.Option(help="Port to serve JSON-RPC on.")]
BlockPeriod = Annotated[
    float | None,
    typer.Option(help="Seconds between blocks while transactions wait (default: from genesis)."),
]
MaxBatch = Annotated[
    int | None, typer.Option(help="Most transactions per block (default: from genesis).")
]
LogLevel = Annotated[str, typer.Option(help="debug, info, warning or error.")]
LogFmt = Annotated[str, typer.Option("--log-format", help="console or json.")]


def fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=1)


def node_options(
    genesis: GenesisConfig,
    data_dir: Path,
    host: str,
    port: int,
    block_period: float | None,
    max_batch: int | None,
    max_nonce_gap: int | None,
    fsync: bool,
    *,
    max_tx_size: int | None = None,
    sender_bytes_per_second: int | None = None,
    sender_burst_bytes: int | None = None,
) -> NodeOptions:
    from pydantic import ValidationError

    from ledger.node.config import NodeOptions
    from ledger.secrets import NODE_ADMIN_TOKEN_ENV, env_secret

    config = genesis.config
    try:
        return NodeOptions(
            data_dir=data_dir,
            host=host,
            port=port,
            block_period=config.block_period_seconds if block_period is None else block_period,
            max_batch_size=config.max_batch_size if max_batch is None else max_batch,
            max_nonce_gap=config.max_nonce_gap if max_nonce_gap is None else max_nonce_gap,
            max_tx_size=config.max_tx_size if max_tx_size is None else max_tx_size,
            sender_bytes_per_second=config.sender_bytes_per_second
            if sender_bytes_per_second is None
            else sender_bytes_per_second,
            sender_burst_bytes=config.sender_burst_bytes
            if sender_burst_bytes is None
            else sender_burst_bytes,
            fsync=fsync,
            admin_token=env_secret(NODE_ADMIN_TOKEN_ENV),
        )
    except ValidationError as exc:
        raise fail(f"invalid node options: {_problems(exc)}") from None


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


def run_node(
    genesis: GenesisConfig, options: NodeOptions, on_stop: Callable[[], None] | None = None
) -> None:
    from ledger.cli.progress import progress_bar
    from ledger.node.node import Node
    from ledger.node.rpc.server import serve

    try:
        with progress_bar("building the genesis state", "accounts") as report:
            node = Node.open(genesis, options, report)
        serve(node, on_stop)
    except LedgerError as exc:  # refused at start, or stopped because a block failed to write
        raise fail(str(exc)) from None


def node(
    genesis_file: Annotated[
        Path, typer.Option("--genesis", help="Genesis file (geth/Besu shape, see docs).")
    ],
    data_dir: DataDir = defaults.NODE_DIR,
    host: Host = "127.0.0.1",
    port: Port = 8545,
    block_period: BlockPeriod = None,
    max_batch: MaxBatch = None,
    max_nonce_gap: Annotated[
        int | None,
        typer.Option(help="Refuse nonces this far ahead of the account (default: from genesis)."),
    ] = None,
    fsync: Annotated[
        bool, typer.Option(help="fsync every block (off only for benchmarks on tmpfs).")
    ] = True,
    rpc_max_log_range: Annotated[
        int, typer.Option(help="Most blocks one eth_getLogs query may scan.")
    ] = 10_000,
    rpc_gas_cap: Annotated[
        int | None,
        typer.Option(
            help="Most gas one eth_call or eth_estimateGas may use (Besu's name; default "
            "25,000,000)."
        ),
    ] = None,
    rpc_call_timeout: Annotated[
        float | None,
        typer.Option(
            help="Seconds one eth_call or eth_estimateGas may run before it is aborted (default 5)."
        ),
    ] = None,
    rpc_batch_call_budget: Annotated[
        float | None,
        typer.Option(
            help="Seconds the calls and estimates of one JSON-RPC batch may run in all "
            "(default 10)."
        ),
    ] = None,
    max_tx_size: Annotated[
        int | None,
        typer.Option(help="Largest signed transaction admitted, in bytes (default: from genesis)."),
    ] = None,
    sender_bytes_per_second: Annotated[
        int | None,
        typer.Option(
            help="Transaction bytes one sender may add per second, 0 for no limit "
            "(default: from genesis)."
        ),
    ] = None,
    sender_burst_bytes: Annotated[
        int | None,
        typer.Option(help="Transaction bytes one sender may add at once (default: from genesis)."),
    ] = None,
    max_clock_drift: Annotated[
        float,
        typer.Option(
            help="Seconds block stamps may run ahead of the wall clock (each block adds at "
            "least 1 s); beyond it sealing slows to one block a second."
        ),
    ] = 60.0,
    log_level: LogLevel = "info",
    log_format: LogFmt = "console",
) -> None:
    """Run the embedded permissioned chain node (JSON-RPC over HTTP).

    Admin methods (perm_*) are enabled only when CITYLEDGER_NODE_ADMIN_TOKEN is set; clients
    send it as "Authorization: Bearer <token>". SIGHUP re-reads the accounts allowlist.
    If a block cannot be written (disk full, I/O error) the node stops and exits with
    status 1: run it under a supervisor that restarts it. Limits: docs/security.md.
    """
    from pydantic import ValidationError

    from ledger.logging import configure_logging
    from ledger.node.config import GenesisConfig, NodeOptions

    configure_logging(log_level, _log_format(log_format))
    try:
        genesis = GenesisConfig.load(genesis_file)
    except LedgerError as exc:
        raise fail(str(exc)) from None
    options = node_options(
        genesis,
        data_dir,
        host,
        port,
        block_period,
        max_batch,
        max_nonce_gap,
        fsync,
        max_tx_size=max_tx_size,
        sender_bytes_per_second=sender_bytes_per_second,
        sender_burst_bytes=sender_burst_bytes,
    )
    runtime = {
        "max_log_block_range": rpc_max_log_range,
        "max_clock_drift": max_clock_drift,
        "rpc_gas_cap": rpc_gas_cap,
        "rpc_call_timeout": rpc_call_timeout,
        "rpc_batch_call_budget": rpc_batch_call_budget,
    }
    try:  # options left out keep NodeOptions' defaults (docs/security.md lists them)
        options = NodeOptions.model_validate(
            options.model_dump() | {k: v for k, v in runtime.items() if v is not None}
        )
    except ValidationError as exc:
        raise fail(f"invalid node options: {_problems(exc)}") from None
    run_node(genesis, options)


def genesis(
    output: Annotated[Path, typer.Argument(help="Where to write the genesis file.")],
    chain_id: Annotated[int, typer.Option(help="Chain id.")] = 44051,
    fund: Annotated[
        list[str] | None,
        typer.Option(help="ADDRESS=WEI to pre-fund (repeatable); funded accounts are allowlisted."),
    ] = None,
) -> None:
    """Write a genesis file for `cityledger node` (edit it, or pass --fund)."""
    from ledger.node.config import ChainParams, GenesisConfig

    alloc: dict[str, dict[str, int]] = {}
    for entry in fund or []:
        address, _, amount = entry.partition("=")
        if not amount.isdigit():
            raise fail(f"--fund expects ADDRESS=WEI, got {entry!r}")
        alloc[address] = {"balance": int(amount)}
    try:
        document = GenesisConfig.model_validate(
            {
                "config": ChainParams(chain_id=chain_id),
                "timestamp": int(time.time()),
                "alloc": alloc,
                "allowlist": list(alloc),
            }
        )
    except ValueError as exc:
        raise fail(f"invalid genesis: {exc}") from None
    document.dump(output)
    console.print(f"wrote {output}")


def _log_format(value: str) -> LogFormat:
    if value not in ("console", "json"):
        raise fail(f"--log-format must be console or json, not {value!r}")
    return "json" if value == "json" else "console"


def add_commands(root: typer.Typer) -> None:
    """The ``cityledger.commands`` entry point of the node's commands."""
    root.command("node")(node)
    root.command("genesis")(genesis)
