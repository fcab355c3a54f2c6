"""`cityledger admin …`: the city staff's operations on the registry, the token and roles.

Each command signs as one staff account (``--as ALIAS`` or $CITYLEDGER_SIGNER_KEY) and the
contracts decide whether that account's role allows it: the CLI checks nothing the chain
would not check again.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated

import typer
from eth_account.signers.local import LocalAccount
from eth_utils import is_address, to_checksum_address
from rich.table import Table

from ledger.city import City
from ledger.cli.common import (
    DeploymentsDir,
    JsonOutput,
    KeystoreDir,
    Network,
    PasswordFile,
    RpcUrl,
    SignerAlias,
    connect,
    console,
    emit,
    friendly_errors,
    load_signer,
)
from ledger.contracts.registry import credential_hash
from ledger.keys import read_password_file
from ledger.permissioning import TOKEN_ENV, NodeAllowlists
from ledger.roles import Role
from ledger.types import AccountKind, format_krw, parse_krw

app = typer.Typer(help="City staff operations (registry, token, roles).", no_args_is_help=True)

PEPPER_ENV = "CITYLEDGER_CREDENTIAL_PEPPER"

Account = Annotated[str, typer.Argument(help="Account address (0x…).")]
Ref = Annotated[
    str, typer.Option("--ref", help="Bank deposit / settlement reference (≤ 32 bytes).")
]


@dataclass
class Staff:
    """The connection and signer options every admin command starts from; the chain is
    reached only when a command needs it, so `--help` works without one."""

    rpc_url: str | None
    network: str
    deployments_dir: Path
    alias: str | None
    keystore_dir: Path
    password_file: Path | None
    _city: City | None = None

    @property
    def city(self) -> City:
        if self._city is None:
            self._city = connect(self.rpc_url, self.network, self.deployments_dir)
        return self._city

    @property
    def signer(self) -> LocalAccount:
        return load_signer(self.alias, self.keystore_dir, self.password_file)


def _staff(ctx: typer.Context) -> Staff:
    staff: Staff = ctx.obj
    return staff


@app.callback()
def options(
    ctx: typer.Context,
    rpc_url: RpcUrl = None,
    network: Network = "local",
    deployments_dir: DeploymentsDir = Path("deployments"),
    signer: SignerAlias = None,
    keystore_dir: KeystoreDir = Path(".cityledger/keystore"),
    password_file: PasswordFile = None,
) -> None:
    """Connection and signer options, given before the command."""
    ctx.obj = Staff(rpc_url, network, deployments_dir, signer, keystore_dir, password_file)


def _address(value: str) -> str:
    if not is_address(value):
        raise ValueError(f"{value!r} is not an account address (0x followed by 40 hex digits)")
    return to_checksum_address(value)


def _done(what: str, receipt: dict[str, object]) -> None:
    console.print(f"[green]{what}[/green] (block {receipt['blockNumber']})")


def _credential(credential: str) -> bytes:
    pepper = os.environ.get(PEPPER_ENV, "")
    if not pepper and os.environ.get(f"{PEPPER_ENV}_FILE"):
        pepper = read_password_file(Path(os.environ[f"{PEPPER_ENV}_FILE"]))
    if not pepper:
        raise ValueError(
            f"set ${PEPPER_ENV} or ${PEPPER_ENV}_FILE (the city's secret for credential hashes)"
        )
    return credential_hash(credential, pepper.encode())


@app.command()
@friendly_errors
def register(
    ctx: typer.Context,
    account: Account,
    kind: Annotated[str, typer.Option(help="resident, merchant, city-service, prosumer, …")],
    district: Annotated[int, typer.Option(help="District code.", min=0, max=2**32 - 1)],
    credential: Annotated[
        str,
        typer.Option(help="Credential reference; only its keyed hash goes on chain."),
    ],
) -> None:
    """Register an account (registrar)."""
    staff = _staff(ctx)
    checked = _address(account)
    receipt = staff.city.registry.register(
        staff.signer, checked, _kind(kind), district, _credential(credential)
    )
    _done(f"registered {checked} as {kind} in district {district}", dict(receipt))
    _allow(staff, add=[checked])


@app.command()
@friendly_errors
def update(
    ctx: typer.Context,
    account: Account,
    kind: Annotated[str, typer.Option(help="New account kind.")],
    district: Annotated[int, typer.Option(help="New district code.", min=0, max=2**32 - 1)],
    credential: Annotated[str, typer.Option(help="Credential reference (hashed).")],
) -> None:
    """Change an account's kind, district or credential (registrar)."""
    staff = _staff(ctx)
    receipt = staff.city.registry.update(
        staff.signer, _address(account), _kind(kind), district, _credential(credential)
    )
    _done(f"updated {account}", dict(receipt))


@app.command()
@friendly_errors
def freeze(ctx: typer.Context, account: Account) -> None:
    """Freeze an account: it can neither send nor receive (registrar)."""
    staff = _staff(ctx)
    _done(f"froze {account}", dict(staff.city.registry.freeze(staff.signer, _address(account))))


@app.command()
@friendly_errors
def unfreeze(ctx: typer.Context, account: Account) -> None:
    """Unfreeze an account (registrar)."""
    staff = _staff(ctx)
    receipt = staff.city.registry.unfreeze(staff.signer, _address(account))
    _done(f"unfroze {account}", dict(receipt))


@app.command()
@friendly_errors
def recover(
    ctx: typer.Context,
    old_account: Annotated[str, typer.Argument(help="The account whose key was lost.")],
    new_account: Annotated[str, typer.Argument(help="The resident's new account.")],
) -> None:
    """Move a lost key's registration and balance to a new account (registrar)."""
    staff = _staff(ctx)
    old, new = _address(old_account), _address(new_account)
    receipt = staff.city.registry.recover(staff.signer, old, new)
    _done(f"recovered {old} → {new}", dict(receipt))
    _allow(staff, add=[new], remove=(old,))


@app.command()
@friendly_errors
def mint(
    ctx: typer.Context,
    account: Account,
    amount: Annotated[str, typer.Argument(help="Whole won, e.g. 50000 or ₩50,000.")],
    ref: Ref,
) -> None:
    """Issue tokens against a fiat deposit reference, usable once (treasury)."""
    staff = _staff(ctx)
    value = parse_krw(amount)
    receipt = staff.city.token.mint(staff.signer, _address(account), value, ref)
    _done(f"minted {format_krw(value)} to {account} against {ref}", dict(receipt))


@app.command()
@friendly_errors
def redeem(
    ctx: typer.Context,
    amount: Annotated[str, typer.Argument(help="Whole won to burn from the signer's balance.")],
    ref: Ref,
) -> None:
    """Burn the signer's tokens against a bank settlement reference, usable once."""
    staff = _staff(ctx)
    value = parse_krw(amount)
    receipt = staff.city.token.redeem(staff.signer, value, ref)
    _done(f"redeemed {format_krw(value)} against {ref}", dict(receipt))


@app.command()
@friendly_errors
def pause(ctx: typer.Context) -> None:
    """Stop every token movement (pauser)."""
    staff = _staff(ctx)
    _done("paused the token", dict(staff.city.token.pause(staff.signer)))


@app.command()
@friendly_errors
def unpause(ctx: typer.Context) -> None:
    """Let tokens move again (pauser)."""
    staff = _staff(ctx)
    _done("unpaused the token", dict(staff.city.token.unpause(staff.signer)))


@app.command()
@friendly_errors
def grant(
    ctx: typer.Context,
    role: Annotated[str, typer.Argument(help="Role name, e.g. treasury or registrar.")],
    account: Account,
    delay: Annotated[int, typer.Option(help="Execution delay in seconds.", min=0)] = 0,
) -> None:
    """Grant a role (admin)."""
    staff = _staff(ctx)
    parsed = Role.parse(role)
    receipt = staff.city.authority.grant_role(staff.signer, parsed, _address(account), delay)
    _done(f"granted {parsed.label} to {account}", dict(receipt))


@app.command()
@friendly_errors
def revoke(
    ctx: typer.Context,
    role: Annotated[str, typer.Argument(help="Role name.")],
    account: Account,
) -> None:
    """Revoke a role (admin)."""
    staff = _staff(ctx)
    parsed = Role.parse(role)
    receipt = staff.city.authority.revoke_role(staff.signer, parsed, _address(account))
    _done(f"revoked {parsed.label} from {account}", dict(receipt))


@app.command()
@friendly_errors
def account(ctx: typer.Context, address: Account, json_output: JsonOutput = False) -> None:
    """Show an account's registration, balance and roles (no signer needed)."""
    city = _staff(ctx).city
    checked = _address(address)
    registration = city.registry.registration_of(checked)
    roles = [r.label for r in Role if city.authority.has_role(r, checked).is_member]
    document = {
        "address": checked,
        "kind": registration.kind.name.lower(),
        "status": registration.status.name.lower(),
        "district": registration.district,
        "balance": city.token.balance_of(checked),
        "roles": roles,
    }
    if json_output:
        emit(document)
        return
    for key, value in document.items():
        shown = format_krw(int(str(value))) if key == "balance" else value
        console.print(f"{key:>9}: {shown}")


@app.command()
@friendly_errors
def supply(ctx: typer.Context, json_output: JsonOutput = False) -> None:
    """Supply report: minted, burned, outstanding, and every change by reference."""
    token = _staff(ctx).city.token
    records = token.supply_changes()
    minted, burned, outstanding = token.total_minted(), token.total_burned(), token.total_supply()
    if json_output:
        emit(
            {
                "minted": minted,
                "burned": burned,
                "outstanding": outstanding,
                "changes": [asdict(r) for r in records],
            }
        )
        return
    table = Table(title=f"{token.symbol()} supply changes")
    for column in ("block", "kind", "account", "amount", "reference"):
        table.add_column(column, justify="right" if column in ("block", "amount") else "left")
    for r in records:
        table.add_row(str(r.block), r.kind, r.account, format_krw(r.amount), r.reference)
    console.print(table)
    console.print(
        f"minted {format_krw(minted)} − burned {format_krw(burned)} = "
        f"outstanding {format_krw(outstanding)}"
    )
    if minted - burned != outstanding:
        raise typer.Exit(code=2)


def _allow(staff: Staff, add: list[str], remove: tuple[str, ...] = ()) -> None:
    """Mirror a registry change on the nodes' account allowlists (Besu PERM API)."""
    allowlists = NodeAllowlists.from_env(staff.city.chain.rpc_url)
    if allowlists is None:
        console.print(
            f"[yellow]note:[/yellow] node allowlists unchanged (set ${TOKEN_ENV} or "
            f"${TOKEN_ENV}_FILE to let staff commands update them)"
        )
        return
    if add:
        allowlists.add(add)
    if remove:
        allowlists.remove(remove)
    console.print(f"node allowlists updated on {', '.join(allowlists.urls)}")


def _kind(text: str) -> AccountKind:
    try:
        kind = AccountKind[text.strip().upper().replace("-", "_")]
    except KeyError:
        kind = AccountKind.NONE
    if kind is AccountKind.NONE:
        names = ", ".join(k.name.lower().replace("_", "-") for k in AccountKind if k)
        raise ValueError(f"unknown account kind {text!r}; kinds are: {names}")
    return kind
