"""`cityledger serve`: the city API (uvicorn); `cityledger api-key`: merchants' and services' keys.

    cityledger serve --port 8000                       # migrate, then serve
    cityledger api-key create --merchant 0x…           # prints the key once
    cityledger api-key create --service audit --scopes reports:read
    cityledger api-key list
    cityledger api-key revoke <id>

The API shares the index's database (``--db-url`` / $CITYLEDGER_DB_URL, else
``sqlite:///<data-dir>/index.sqlite3``) and reads the rest of its settings from
``CITYLEDGER_API_*`` (see ``api/core/config.py``). The API's own signer comes from
$CITYLEDGER_API_SERVICE_KEY or an encrypted keystore, never from a flag.

``ledger`` never imports ``api`` at module level: these commands import it when they run.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from ledger.cli.common import (
    DbUrl,
    DeploymentsDir,
    JsonOutput,
    Network,
    RpcUrl,
    StateDir,
    checked_address,
    console,
    emit,
    friendly_errors,
)

if TYPE_CHECKING:
    from api.core.config import Settings

api_keys = typer.Typer(help="API keys of merchants and city services.", no_args_is_help=True)


def _database_url(db_url: str | None, data_dir: Path) -> str:
    from ledger.config import LedgerSettings

    return db_url or LedgerSettings(data_dir=data_dir).database_url


ELECTIONS_DIR_ENV = "CITYLEDGER_API_ELECTIONS_DIR"


def _api_settings(
    db_url: str | None,
    data_dir: Path,
    rpc_url: str | None = None,
    network: str | None = None,
    deployments_dir: Path | None = None,
    **extra: Any,
) -> Settings:
    from api.core.config import Settings

    overrides: dict[str, Any] = {"db_url": _database_url(db_url, data_dir), **extra}
    if ELECTIONS_DIR_ENV not in os.environ:  # where `cityledger election` publishes vote files
        overrides["elections_dir"] = data_dir / "elections"
    if rpc_url:
        overrides["rpc_url"] = rpc_url
    if network:
        overrides["network"] = network
    if deployments_dir:
        overrides["deployments_dir"] = deployments_dir
    return Settings(**overrides)


def migrate(url: str) -> None:
    """Both migration trees: the index's tables, then the API's."""
    from api.migrations import upgrade as upgrade_api
    from ledger.indexer.db import upgrade as upgrade_index

    upgrade_index(url)
    upgrade_api(url)


@friendly_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    db_url: DbUrl = None,
    data_dir: StateDir = Path(".cityledger"),
    rpc_url: RpcUrl = None,
    network: Network = "local",
    deployments_dir: DeploymentsDir = Path("deployments"),
    run_migrations: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Apply database migrations first.")
    ] = True,
    webhooks: Annotated[
        bool, typer.Option("--webhooks/--no-webhooks", help="Run the webhook worker.")
    ] = True,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Serve the city API (FastAPI on uvicorn): payments, invoices, webhooks, relays."""
    import uvicorn

    from api.main import create_app
    from ledger.logging import configure_logging

    configure_logging(log_level)
    settings = _api_settings(
        db_url, data_dir, rpc_url, network, deployments_dir, webhooks_enabled=webhooks
    )
    if run_migrations:
        migrate(settings.database_url)
    console.print(f"serving the city API on http://{host}:{port}{settings.api_prefix}")
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level)


def issue_key(
    url: str, kind: str, address: str | None, label: str, scopes: frozenset[str]
) -> tuple[str, str]:
    """Store a new API key's digest; returns (id, key). The key exists nowhere else."""
    from sqlmodel import Session

    from api.core.security import generate_api_key
    from api.db import make_engine
    from api.models import ApiKey

    new = generate_api_key()
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            row = ApiKey(
                prefix=new.prefix,
                key_hash=new.digest,
                label=label,
                principal_kind=kind,
                principal_address=address,
                scopes=" ".join(sorted(scopes)),
            )
            session.add(row)
            session.commit()
            return str(row.id), new.key
    finally:
        engine.dispose()


@api_keys.command("create")
@friendly_errors
def create_key(
    merchant: Annotated[
        str | None, typer.Option(help="The merchant's address (a merchant key).")
    ] = None,
    service: Annotated[
        str | None, typer.Option(help="A city service's name (a staff key; needs --scopes).")
    ] = None,
    scopes: Annotated[
        str | None,
        typer.Option(help="Space/comma-separated scopes (merchants: all but admin by default)."),
    ] = None,
    label: Annotated[str | None, typer.Option(help="What the key is for.")] = None,
    db_url: DbUrl = None,
    data_dir: StateDir = Path(".cityledger"),
    json_output: JsonOutput = False,
) -> None:
    """Create an API key; it is printed once and only its digest is stored."""
    from api.core import scopes as scope_names

    if (merchant is None) == (service is None):
        raise ValueError("give either --merchant ADDRESS or --service NAME")
    if merchant is not None:
        address = checked_address(merchant, "an address for --merchant")
        granted = scope_names.parse_scopes(scopes) if scopes else scope_names.MERCHANT_DEFAULT
        if scope_names.ADMIN in granted:
            raise ValueError("a merchant key cannot hold the admin scope")
        kind, name = "merchant", label or "merchant"
    else:
        if not scopes:
            raise ValueError("a service key needs --scopes (e.g. reports:read)")
        granted = scope_names.parse_scopes(scopes)
        extra = granted - scope_names.SERVICE_READ_ONLY - {scope_names.ADMIN}
        if extra:
            raise ValueError(
                f"a service key reads; it cannot hold {', '.join(sorted(extra))} "
                "(those act in a merchant's name)"
            )
        kind, address, name = "service", None, label or str(service)
    url = _database_url(db_url, data_dir)
    migrate(url)
    key_id, key = issue_key(url, kind, address, name, granted)
    if json_output:
        emit(
            {
                "id": key_id,
                "key": key,
                "kind": kind,
                "address": address,
                "scopes": sorted(granted),
            }
        )
        return
    console.print(f"API key {key_id} ({kind}{' ' + address if address else ''}):")
    console.print(f"  {key}", highlight=False, soft_wrap=True)
    console.print("Store it now: it is shown only once.")


@api_keys.command("list")
@friendly_errors
def list_keys(
    db_url: DbUrl = None, data_dir: StateDir = Path(".cityledger"), json_output: JsonOutput = False
) -> None:
    """List API keys (never the keys themselves)."""
    from sqlmodel import Session, col, select

    from api.db import make_engine
    from api.models import ApiKey

    url = _database_url(db_url, data_dir)
    migrate(url)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            keys = session.exec(select(ApiKey).order_by(col(ApiKey.created_at))).all()
    finally:
        engine.dispose()
    rows: list[dict[str, Any]] = [
        {
            "id": str(k.id),
            "prefix": k.prefix,
            "label": k.label,
            "kind": k.principal_kind,
            "address": k.principal_address,
            "scopes": k.scopes.split(),
            "created_at": k.created_at.isoformat(),
            "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
        }
        for k in keys
    ]
    if json_output:
        emit(rows)
        return
    table = Table("id", "prefix", "label", "kind", "address", "scopes", "revoked")
    for k in keys:
        table.add_row(
            str(k.id),
            f"{k.prefix}…",
            k.label,
            k.principal_kind,
            k.principal_address or "",
            k.scopes,
            k.revoked_at.isoformat() if k.revoked_at else "",
        )
    console.print(table)


@api_keys.command("revoke")
@friendly_errors
def revoke_key(
    key_id: Annotated[str, typer.Argument(help="The key's id (see `cityledger api-key list`).")],
    db_url: DbUrl = None,
    data_dir: StateDir = Path(".cityledger"),
) -> None:
    """Revoke an API key: it stops working at once."""
    import uuid

    from sqlmodel import Session

    from api.db import make_engine
    from api.models import ApiKey, utcnow

    try:
        identifier = uuid.UUID(key_id)
    except ValueError:
        raise ValueError(f"{key_id!r} is not a key id") from None
    url = _database_url(db_url, data_dir)
    migrate(url)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            key = session.get(ApiKey, identifier)
            if key is None:
                raise ValueError(f"no API key {key_id}")
            if key.revoked_at is None:
                key.revoked_at = utcnow()
                session.add(key)
                session.commit()
    finally:
        engine.dispose()
    console.print(f"API key {key_id} revoked")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(api_keys, name="api-key")


def start_platform(
    data_dir: Path,
    rpc_url: str,
    manifest_path: Path,
    *,
    host: str,
    port: int,
    stopping: threading.Event,
) -> str:
    """`cityledger up`'s services beside the node: the index database (migrated), the indexer
    following the chain, and the API with its webhook worker, each in a daemon thread of this
    process, all stopping once ``stopping`` is set. Returns the API's base URL once it serves.

    The API signs as the demo's ``payment-service`` key (PAYMENT_OPERATOR) from its keystore,
    and its token secret is made once per data dir (mode 0600); nothing secret is logged.
    """
    import secrets as random
    import time

    import uvicorn

    from api.main import create_app
    from ledger.city import load_manifest
    from ledger.indexer.db import make_engine as index_engine
    from ledger.indexer.runner import Indexer
    from ledger.keys import write_private
    from ledger.node.devnet import KEYSTORE_DIR, PASSWORD_FILE

    url = _database_url(None, data_dir)
    migrate(url)
    manifest = load_manifest(manifest_path)
    engine = index_engine(url)
    indexer = Indexer.for_manifest(engine, rpc_url, manifest)
    indexer.run_once()  # the API reads registrations from the index: catch up before serving
    threading.Thread(
        target=indexer.follow, args=(stopping, 0.5), name="indexer", daemon=True
    ).start()

    secret_file = data_dir / "api-secret"
    if not secret_file.exists():
        write_private(secret_file, random.token_urlsafe(48))
    settings = _api_settings(
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


def demo_merchant_key(data_dir: Path, merchant: str, alias: str) -> Path:
    """A merchant API key for the demo, made once and kept in a mode-0600 file."""
    from api.core import scopes as scope_names
    from ledger.keys import write_private

    path = data_dir / f"{alias}.api-key"
    if not path.exists():
        _, key = issue_key(
            _database_url(None, data_dir),
            "merchant",
            merchant,
            f"demo {alias}",
            scope_names.MERCHANT_DEFAULT,
        )
        write_private(path, key + "\n")
    return path
