"""``cityledger node``, ``up`` and ``genesis``: start the embedded chain."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import httpx
import structlog
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from ledger.exceptions import LedgerError
from ledger.logging import LogFormat, configure_logging
from ledger.node.config import GenesisConfig, NodeOptions
from ledger.node.devnet import ADMIN_TOKEN_FILE, admin_token, init_devnet

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


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code=1)


def _options(
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
            admin_token=os.environ.get("CITYLEDGER_NODE_ADMIN_TOKEN") or None,
        )
    except ValidationError as exc:
        raise _fail(f"invalid node options: {_problems(exc)}") from None


def _problems(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


def _run(
    genesis: GenesisConfig, options: NodeOptions, on_stop: Callable[[], None] | None = None
) -> None:
    from ledger.node.node import Node
    from ledger.node.rpc.server import serve

    try:
        node = Node.open(genesis, options)
        serve(node, on_stop)
    except LedgerError as exc:  # refused at start, or stopped because a block failed to write
        raise _fail(str(exc)) from None


def node(
    genesis_file: Annotated[
        Path, typer.Option("--genesis", help="Genesis file (geth/Besu shape, see docs).")
    ],
    data_dir: DataDir = Path(".cityledger/node"),
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
    configure_logging(log_level, _log_format(log_format))
    try:
        genesis = GenesisConfig.load(genesis_file)
    except LedgerError as exc:
        raise _fail(str(exc)) from None
    options = _options(
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
        raise _fail(f"invalid node options: {_problems(exc)}") from None
    _run(genesis, options)


def up(
    data_dir: DataDir = Path(".cityledger"),
    host: Host = "127.0.0.1",
    port: Port = 8545,
    api_port: Annotated[
        int, typer.Option(help="TCP port of the city API.", min=1, max=65535)
    ] = 8000,
    log_level: LogLevel = "info",
) -> None:
    """Run the platform with demo data: the embedded chain, the city's contracts, the indexer
    and the city API, with a small demo district (residents, merchants, top-ups, a purchase,
    an open invoice).

    The first run creates a genesis, demo keystores and a deployment under DATA_DIR; later
    runs reuse them. `source DATA_DIR/env` points the CLIs at this chain and API.
    """
    configure_logging(log_level, "console")
    try:
        genesis, accounts = init_devnet(data_dir)
    except LedgerError as exc:
        raise _fail(str(exc)) from None
    table = Table(title=f"CityLedger dev chain {genesis.config.chain_id}", show_lines=False)
    table.add_column("alias")
    table.add_column("address")
    for account in accounts:
        table.add_row(account.alias, account.address)
    console.print(table)
    url = f"http://{host}:{port}"
    # Ctrl-C stops the indexer and the API while the node still serves, then the node.
    stopping = threading.Event()
    threading.Thread(
        target=_seed_when_serving, args=(data_dir, url, host, api_port, stopping), daemon=True
    ).start()
    options = _options(genesis, data_dir / "node", host, port, None, None, None, fsync=True)
    token = options.admin_token or admin_token(data_dir)
    _run(genesis, options.model_copy(update={"admin_token": token}), on_stop=stopping.set)


def _seed_when_serving(
    data_dir: Path, url: str, host: str, api_port: int, stopping: threading.Event
) -> None:
    """Deploy and seed once the node answers, then start the indexer and the API (both stop
    when ``stopping`` is set); the node keeps serving if this fails."""
    from ledger.cli.serve import demo_merchant_key, start_platform
    from ledger.demo import DEPLOYMENTS_DIR, NETWORK, PEPPER_FILE, demo_invoice, seed_demo
    from ledger.node.devnet import KEYSTORE_DIR, PASSWORD_FILE

    log = structlog.get_logger("cityledger.up")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{url}/health", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)
    try:
        demo = seed_demo(data_dir, url)
        api_url = start_platform(
            data_dir, url, demo.manifest_path, host=host, port=api_port, stopping=stopping
        )
        merchant = _demo_address(data_dir, "merchant-1")
        key_file = demo_merchant_key(data_dir, merchant, "merchant-1")
        invoice = demo_invoice(api_url, key_file.read_text().strip())
    except Exception as exc:
        log.error("demo_setup_failed", error=str(exc))
        return
    root = data_dir.resolve()
    (data_dir / "env").write_text(
        f"export CITYLEDGER_RPC_URL={url}\n"
        f"export CITYLEDGER_NETWORK={NETWORK}\n"
        f"export CITYLEDGER_DEPLOYMENTS_DIR={root / DEPLOYMENTS_DIR}\n"
        f"export CITYLEDGER_KEYSTORE_DIR={root / KEYSTORE_DIR}\n"
        f"export CITYLEDGER_PASSWORD_FILE={root / PASSWORD_FILE}\n"
        f"export CITYLEDGER_DATA_DIR={root}\n"
        f"export CITYLEDGER_CREDENTIAL_PEPPER_FILE={root / PEPPER_FILE}\n"
        f"export CITYLEDGER_NODE_ADMIN_TOKEN_FILE={root / ADMIN_TOKEN_FILE}\n"
        f"export CITYLEDGER_API_URL={api_url}\n"
        f"export CITYLEDGER_DB_URL=sqlite:///{root / 'index.sqlite3'}\n"
    )
    log.info(
        "platform_ready",
        rpc=url,
        token=demo.city.token.address,
        registry=demo.city.registry.address,
        manifest=str(demo.manifest_path),
        api=api_url,
        docs=api_url.rsplit("/api/", 1)[0] + "/docs",
        merchant_key_file=str(key_file),
        env=f"source {data_dir / 'env'}",
    )
    log.info("demo_invoice", ref=invoice, pay=f"wallet pay resident-2 {invoice}")


def _demo_address(data_dir: Path, alias: str) -> str:
    from ledger.keys import KeyStore
    from ledger.node.devnet import KEYSTORE_DIR

    return KeyStore(data_dir / KEYSTORE_DIR).address(alias)


def genesis(
    output: Annotated[Path, typer.Argument(help="Where to write the genesis file.")],
    chain_id: Annotated[int, typer.Option(help="Chain id.")] = 44051,
    fund: Annotated[
        list[str] | None,
        typer.Option(help="ADDRESS=WEI to pre-fund (repeatable); funded accounts are allowlisted."),
    ] = None,
) -> None:
    """Write a genesis file for `cityledger node` (edit it, or pass --fund)."""
    from ledger.node.config import ChainParams

    alloc: dict[str, dict[str, int]] = {}
    for entry in fund or []:
        address, _, amount = entry.partition("=")
        if not amount.isdigit():
            raise _fail(f"--fund expects ADDRESS=WEI, got {entry!r}")
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
        raise _fail(f"invalid genesis: {exc}") from None
    document.dump(output)
    console.print(f"wrote {output}")


def _log_format(value: str) -> LogFormat:
    if value not in ("console", "json"):
        raise _fail(f"--log-format must be console or json, not {value!r}")
    return "json" if value == "json" else "console"
