"""``cityledger up``: the whole platform in one process, with a demo district.

The embedded chain serves in the main thread; once it answers, a set-up thread deploys and
seeds the demo district (:mod:`cityledger.demo`), then starts the indexer following the chain
and the city API with its webhook worker, each in a daemon thread. Ctrl-C stops the indexer
and the API first, while the node still serves, then the node.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated

import typer

from ledger import defaults
from ledger.cli.node import DataDir, Host, LogLevel, Port


def up(
    data_dir: DataDir = defaults.DATA_DIR,
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
    from rich.console import Console
    from rich.table import Table

    from cityledger.demo.devnet import admin_token, init_devnet
    from ledger.cli.node import fail, node_options, run_node
    from ledger.exceptions import LedgerError
    from ledger.logging import configure_logging

    configure_logging(log_level, "console")
    try:
        genesis, accounts = init_devnet(data_dir)
    except LedgerError as exc:
        raise fail(str(exc)) from None
    table = Table(title=f"CityLedger dev chain {genesis.config.chain_id}", show_lines=False)
    table.add_column("alias")
    table.add_column("address")
    for account in accounts:
        table.add_row(account.alias, account.address)
    Console(stderr=True).print(table)
    url = f"http://{host}:{port}"
    stopping = threading.Event()
    threading.Thread(
        target=_seed_when_serving, args=(data_dir, url, host, api_port, stopping), daemon=True
    ).start()
    options = node_options(genesis, data_dir / "node", host, port, None, None, None, fsync=True)
    token = options.admin_token or admin_token(data_dir)
    run_node(genesis, options.model_copy(update={"admin_token": token}), on_stop=stopping.set)


def _seed_when_serving(
    data_dir: Path, url: str, host: str, api_port: int, stopping: threading.Event
) -> None:
    """Deploy and seed once the node answers, then start the indexer and the API (both stop
    when ``stopping`` is set); the node keeps serving if this fails."""
    import time

    import httpx
    import structlog

    from cityledger.demo.devnet import ADMIN_TOKEN_FILE, KEYSTORE_DIR, PASSWORD_FILE
    from cityledger.demo.district import (
        DEPLOYMENTS_DIR,
        NETWORK,
        PEPPER_FILE,
        demo_invoice,
        demo_merchant_key,
        seed_demo,
    )
    from ledger.keys import KeyStore

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
        merchant = KeyStore(data_dir / KEYSTORE_DIR).address("merchant-1")
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


def start_platform(
    data_dir: Path,
    rpc_url: str,
    manifest_path: Path,
    *,
    host: str,
    port: int,
    stopping: threading.Event,
) -> str:
    """The services beside the node: the index database (migrated), the indexer following the
    chain, and the API with its webhook worker, each in a daemon thread of this process, all
    stopping once ``stopping`` is set. Returns the API's base URL once it serves.

    The API signs as the demo's ``payment-service`` key (PAYMENT_OPERATOR) from its keystore,
    and its token secret is made once per data dir (mode 0600); nothing secret is logged.
    """
    import secrets
    import time

    import uvicorn

    from api.cli import api_settings, migrate
    from api.main import create_app
    from cityledger.demo.devnet import KEYSTORE_DIR, PASSWORD_FILE
    from ledger.city import load_manifest
    from ledger.indexer.db import make_engine as index_engine
    from ledger.indexer.runner import Indexer
    from ledger.keys import write_private

    manifest = load_manifest(manifest_path)
    secret_file = data_dir / "api-secret"
    if not secret_file.exists():
        write_private(secret_file, secrets.token_urlsafe(48))
    settings = api_settings(
        None,
        data_dir,
        rpc_url,
        manifest.network,
        manifest_path.parent,
        secret_key=secret_file.read_text().strip(),
        service_keystore=data_dir / KEYSTORE_DIR / "payment-service.json",
        service_password_file=data_dir / PASSWORD_FILE,
        siwe_domain=f"{host}:{port}",
        siwe_uri=f"http://{host}:{port}",
        webhook_allow_private_hosts=True,
    )
    migrate(settings.database_url, settings)
    indexer = Indexer.for_manifest(index_engine(settings.database_url), rpc_url, manifest)
    indexer.run_once()  # the API reads registrations from the index: catch up before serving
    threading.Thread(
        target=indexer.follow, args=(stopping, 0.5), name="indexer", daemon=True
    ).start()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host=host, port=port, log_level="warning")
    )
    threading.Thread(target=server.run, name="api", daemon=True).start()

    def stop_api() -> None:
        stopping.wait()
        server.should_exit = True

    threading.Thread(target=stop_api, name="api-stop", daemon=True).start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the API did not start on {host}:{port}")
        time.sleep(0.05)
    return f"http://{host}:{port}{settings.api_prefix}"


def add_commands(root: typer.Typer) -> None:
    """The ``cityledger.commands`` entry point of the platform's command."""
    root.command("up")(up)
