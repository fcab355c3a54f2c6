"""`cityledger index`: the chain's events into SQL; `cityledger index reconcile`: check them.

    cityledger index                     # index up to the head once, then exit
    cityledger index --follow            # keep following the head (Ctrl-C / SIGTERM stops)
    cityledger index --reset             # empty the index and index from the deployment again
    cityledger index reconcile           # compare balances, registrations, supply with the chain

The database is ``--db-url`` ($CITYLEDGER_DB_URL), else ``sqlite:///<data-dir>/index.sqlite3``;
``postgresql+psycopg://user:pass@host/db`` for PostgreSQL. Migrations run on start.

Exit codes: 0 done; 1 an error (one line on stderr); 3 the chain is not the one indexed
(a reset chain: nothing was written; re-index with --reset).
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ledger import defaults
from ledger.cli.common import (
    DbUrl,
    DeploymentsDir,
    JsonOutput,
    Network,
    RpcUrl,
    StateDir,
    console,
    emit,
    errors,
    friendly_errors,
    settings,
)
from ledger.cli.progress import progress_bar
from ledger.exceptions import InputError

if TYPE_CHECKING:
    from ledger.config import LedgerSettings
    from ledger.deploy import Manifest
    from ledger.indexer.errors import ChainResetError
    from ledger.indexer.runner import Indexer

CHAIN_RESET_EXIT = 3

app = typer.Typer(
    help="Index the city's contract events into SQL (SQLite or PostgreSQL).",
    invoke_without_command=True,
)

ManifestPath = Annotated[
    Path | None,
    typer.Option(
        "--manifest", help="Deployment manifest (default: <deployments-dir>/<network>.json)."
    ),
]


def _settings(
    db_url: str | None, rpc_url: str | None, network: str, deployments_dir: Path, data_dir: Path
) -> LedgerSettings:
    base = settings(rpc_url, network, deployments_dir)
    return base.model_copy(update={"db_url": db_url or base.db_url, "data_dir": data_dir})


def _manifest(config: LedgerSettings, path: Path | None) -> Manifest:
    from ledger.city import load_manifest

    return load_manifest(path or config.deployment_file)


def _chain_reset(exc: ChainResetError) -> typer.Exit:
    errors.print(f"[bold red]CHAIN RESET:[/bold red] {exc}", highlight=False, soft_wrap=True)
    return typer.Exit(code=CHAIN_RESET_EXIT)


@app.callback(invoke_without_command=True)
@friendly_errors
def index(
    ctx: typer.Context,
    db_url: DbUrl = None,
    rpc_url: RpcUrl = None,
    manifest: ManifestPath = None,
    network: Network = defaults.NETWORK,
    deployments_dir: DeploymentsDir = defaults.DEPLOYMENTS_DIR,
    data_dir: StateDir = defaults.DATA_DIR,
    follow: Annotated[
        bool, typer.Option("--follow", help="Keep following the head until stopped.")
    ] = False,
    poll_interval: Annotated[
        float, typer.Option(help="Seconds between looks at the head with --follow.", min=0.05)
    ] = 1.0,
    batch_blocks: Annotated[
        int, typer.Option(help="Blocks per batch (one database transaction each).", min=1)
    ] = defaults.INDEX_BATCH_BLOCKS,
    confirmations: Annotated[
        int, typer.Option(help="Stay this many blocks behind the head (0 on QBFT).", min=0)
    ] = 0,
    max_reorg_depth: Annotated[
        int, typer.Option(help="Deeper divergences are reported as a chain reset.", min=1)
    ] = defaults.INDEX_MAX_REORG_DEPTH,
    reset: Annotated[
        bool,
        typer.Option(
            "--reset", help="Empty the index first and index again from the deployment block."
        ),
    ] = False,
    json_output: JsonOutput = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    log_format: Annotated[str, typer.Option("--log-format", help="console or json.")] = "console",
) -> None:
    """Index the chain's events up to the head (or follow it), one transaction per batch."""
    if ctx.invoked_subcommand is not None:
        return
    from ledger.indexer.db import clear_index, make_engine, upgrade
    from ledger.indexer.errors import ChainResetError
    from ledger.indexer.runner import Indexer
    from ledger.logging import LogFormat, configure_logging

    if log_format not in ("console", "json"):
        raise InputError("--log-format is console or json")
    fmt: LogFormat = "json" if log_format == "json" else "console"
    configure_logging(log_level, fmt)
    config = _settings(db_url, rpc_url, network, deployments_dir, data_dir)
    deployment = _manifest(config, manifest)
    engine = make_engine(config.database_url)
    try:
        upgrade(engine)
        if reset:
            clear_index(engine)
        with Indexer.for_manifest(
            engine,
            config.rpc_url,
            deployment,
            batch_blocks=batch_blocks,
            confirmations=confirmations,
            max_reorg_depth=max_reorg_depth,
        ) as indexer:
            try:
                if follow:
                    _follow(indexer, poll_interval)
                    return
                with progress_bar("indexing", "blocks", quiet=json_output) as report:
                    stats = indexer.run_once(report)
            except ChainResetError as exc:
                raise _chain_reset(exc) from None
    finally:
        engine.dispose()
    summary = {
        "cursor": stats.cursor,
        "head": stats.head,
        "blocks": stats.blocks,
        "events": stats.events,
        "reorgs": stats.reorgs,
        "seconds": round(stats.seconds, 3),
        "events_per_s": round(stats.events_per_second),
    }
    if json_output:
        emit(summary)
        return
    console.print(
        f"indexed {stats.events:,} events in {stats.blocks:,} blocks "
        f"({summary['events_per_s']:,} events/s); at block {stats.cursor:,}, head {stats.head:,}"
        + (f"; {stats.reorgs} reorg(s) rolled back" if stats.reorgs else "")
    )


def _follow(indexer: Indexer, poll_interval: float) -> None:
    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, _stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        indexer.follow(stop, poll_interval)
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@app.command()
@friendly_errors
def reconcile(
    db_url: DbUrl = None,
    rpc_url: RpcUrl = None,
    manifest: ManifestPath = None,
    network: Network = defaults.NETWORK,
    deployments_dir: DeploymentsDir = defaults.DEPLOYMENTS_DIR,
    data_dir: StateDir = defaults.DATA_DIR,
    json_output: JsonOutput = False,
) -> None:
    """Compare every indexed balance, registration and the supply with the chain (at the
    indexed block). Exit 1 and print the differences if there are any."""
    from ledger.indexer.db import make_engine, upgrade
    from ledger.indexer.reconcile import reconcile as reconcile_index
    from ledger.indexer.runner import manifest_contracts

    config = _settings(db_url, rpc_url, network, deployments_dir, data_dir)
    deployment = _manifest(config, manifest)
    engine = make_engine(config.database_url)
    try:
        upgrade(engine)
        with progress_bar("reconciling", "accounts", quiet=json_output) as progress:
            report = reconcile_index(
                engine, config.rpc_url, manifest_contracts(deployment), progress
            )
    finally:
        engine.dispose()
    if json_output:
        emit(
            {
                "block": report.block,
                "balances": report.balances,
                "accounts": report.accounts,
                "differences": [d.__dict__ for d in report.differences],
            }
        )
    elif report.ok:
        console.print(
            f"the index matches the chain at block {report.block:,}: "
            f"{report.balances:,} balances, {report.accounts:,} accounts, supply"
        )
    else:
        table = Table(title=f"index vs chain at block {report.block:,}")
        for column in ("what", "account", "indexed", "chain"):
            table.add_column(column, justify="right" if column in ("indexed", "chain") else "left")
        for d in report.differences:
            table.add_row(d.what, d.key, str(d.indexed), str(d.chain))
        console.print(table)
        errors.print(f"[red]{len(report.differences)} difference(s)[/red]")
    if not report.ok:
        raise typer.Exit(code=1)


def add_commands(root: typer.Typer) -> None:
    """The ``cityledger.commands`` entry point of these commands."""
    root.add_typer(app, name="index")
