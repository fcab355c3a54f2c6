"""``cityledger serve`` (the city API on uvicorn) and ``cityledger api-key`` (merchants' and
services' keys), registered under the ``cityledger.commands`` entry points.

    cityledger serve --port 8000                       # migrate, then serve
    cityledger api-key create --merchant 0x…           # prints the key once
    cityledger api-key create --service audit --scopes reports:read
    cityledger api-key list
    cityledger api-key revoke <id>

The API shares the index's database (``--db-url`` / $CITYLEDGER_DB_URL, else
``sqlite:///<data-dir>/index.sqlite3``) and reads the rest of its settings from
``CITYLEDGER_API_*`` (see ``api/core/config.py``). The API's own signer comes from
$CITYLEDGER_API_SERVICE_KEY or an encrypted keystore, never from a flag. The key rules are
:mod:`api.keys`'; these commands only parse and print.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

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
    friendly_errors,
)
from ledger.exceptions import InputError

if TYPE_CHECKING:
    from sqlmodel import Session

    from api.core.config import Settings

api_keys = typer.Typer(help="API keys of merchants and city services.", no_args_is_help=True)


def api_settings(
    db_url: str | None,
    data_dir: Path,
    rpc_url: str | None = None,
    network: str | None = None,
    deployments_dir: Path | None = None,
    **extra: Any,
) -> Settings:
    """The API's settings over the ledger's, with what the command line says."""
    from api.core.config import Settings
    from ledger.config import LedgerSettings, build_settings

    ledger: dict[str, Any] = {"data_dir": data_dir}
    for name, value in (
        ("db_url", db_url),
        ("rpc_url", rpc_url),
        ("network", network),
        ("deployments_dir", deployments_dir),
    ):
        if value:
            ledger[name] = value
    return build_settings(Settings, ledger=build_settings(LedgerSettings, **ledger), **extra)


def migrate(url: str, settings: Settings | None = None) -> None:
    """Both migration trees: the index's tables, then the API's (whose data migrations seal
    secrets with the keys of ``settings``, the ones the API will run with; without them, the
    environment's)."""
    from api.core.sealing import sealer_for
    from api.migrations import upgrade as upgrade_api
    from ledger.indexer.db import upgrade as upgrade_index

    upgrade_index(url)
    upgrade_api(url, sealer=sealer_for(settings) if settings is not None else None)


@contextmanager
def key_session(db_url: str | None, data_dir: Path) -> Iterator[Session]:
    """A session on the migrated API database, for the key commands."""
    from sqlmodel import Session

    from api.db import make_engine
    from ledger.config import LedgerSettings, build_settings

    url = build_settings(LedgerSettings, data_dir=data_dir, db_url=db_url).database_url
    migrate(url)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


@friendly_errors
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
    db_url: DbUrl = None,
    data_dir: StateDir = defaults.DATA_DIR,
    rpc_url: RpcUrl = None,
    network: Network = defaults.NETWORK,
    deployments_dir: DeploymentsDir = defaults.DEPLOYMENTS_DIR,
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
    settings = api_settings(
        db_url, data_dir, rpc_url, network, deployments_dir, webhooks_enabled=webhooks
    )
    if run_migrations:
        migrate(settings.database_url, settings)
    console.print(f"serving the city API on http://{host}:{port}{settings.api_prefix}")
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level)


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
    data_dir: StateDir = defaults.DATA_DIR,
    json_output: JsonOutput = False,
) -> None:
    """Create an API key; it is printed once and only its digest is stored."""
    from api.keys import issue_key, merchant_grant, service_grant

    if (merchant is None) == (service is None):
        raise InputError("give either --merchant ADDRESS or --service NAME")
    with key_session(db_url, data_dir) as session:
        if merchant is not None:
            grant = merchant_grant(session, merchant, scopes, label)
        else:
            grant = service_grant(str(service), scopes, label)
        issued = issue_key(session, grant)
    address = grant.address
    if json_output:
        emit(
            {
                "id": str(issued.id),
                "key": issued.key,
                "kind": grant.kind,
                "address": address,
                "scopes": sorted(grant.scopes),
            }
        )
        return
    console.print(f"API key {issued.id} ({grant.kind}{' ' + address if address else ''}):")
    console.print(f"  {issued.key}", highlight=False, soft_wrap=True)
    console.print("Store it now: it is shown only once.")


@api_keys.command("list")
@friendly_errors
def list_keys(
    db_url: DbUrl = None, data_dir: StateDir = defaults.DATA_DIR, json_output: JsonOutput = False
) -> None:
    """List API keys (never the keys themselves)."""
    from rich.table import Table

    from api.keys import list_keys as stored_keys

    with key_session(db_url, data_dir) as session:
        keys = stored_keys(session)
    if json_output:
        emit(
            [
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
        )
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
    data_dir: StateDir = defaults.DATA_DIR,
) -> None:
    """Revoke an API key: it stops working at once."""
    from api.keys import revoke_key as revoke

    with key_session(db_url, data_dir) as session:
        revoke(session, key_id)
    console.print(f"API key {key_id} revoked")


def add_commands(root: typer.Typer) -> None:
    """The ``cityledger.commands`` entry point of the API's commands."""
    root.command("serve")(serve)
    root.add_typer(api_keys, name="api-key")
