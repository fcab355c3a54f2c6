"""`cityledger deploy`: put the city's contracts on a chain (or verify they are there, or add the
contracts a deployment predates)."""

from __future__ import annotations

from typing import Annotated

import typer

from ledger import defaults
from ledger.cli.common import (
    DeploymentsDir,
    JsonOutput,
    KeystoreDir,
    Network,
    PasswordFile,
    RpcUrl,
    SignerAlias,
    console,
    emit,
    friendly_errors,
    load_signer,
    settings,
)
from ledger.cli.progress import progress_bar
from ledger.exceptions import InputError
from ledger.roles import Role
from ledger.types import parse_address


def parse_grant(text: str) -> tuple[Role, str, int]:
    """ROLE=ADDRESS[@DELAY_SECONDS], e.g. treasury=0xabc… or treasury-large=0xabc…@86400."""
    role_text, _, rest = text.partition("=")
    address, _, delay = rest.partition("@")
    checked = parse_address(address, f"an address in --grant {text!r} (ROLE=ADDRESS[@DELAY])")
    if delay and not delay.isdigit():
        raise InputError(f"--grant {text!r}: the delay is whole seconds")
    return Role.parse(role_text), checked, int(delay or 0)


@friendly_errors
def deploy(
    admin: Annotated[str, typer.Option(help="The city's admin account (gets ADMIN at the end).")],
    rpc_url: RpcUrl = None,
    network: Network = defaults.NETWORK,
    deployments_dir: DeploymentsDir = defaults.DEPLOYMENTS_DIR,
    signer: SignerAlias = None,
    keystore_dir: KeystoreDir = defaults.KEYSTORE_DIR,
    password_file: PasswordFile = None,
    mint_limit: Annotated[
        int, typer.Option(help="Largest mint (₩) without the delayed treasury-large role.")
    ] = 10_000_000,
    grant: Annotated[
        list[str] | None,
        typer.Option(help="ROLE=ADDRESS[@DELAY] to grant at deployment (repeatable)."),
    ] = None,
    json_output: JsonOutput = False,
) -> None:
    """Deploy and wire CityAuthority, ResidentRegistry, CityToken and PaymentRouter; write the
    manifest.

    Re-running verifies the deployment and changes nothing; a run that stopped half-way
    resumes where it stopped. A deployment made before a contract existed (the PaymentRouter)
    gets it added: run it signed (--as) by the city's admin.
    """
    from ledger.chain import Chain
    from ledger.deploy import DeployPlan, deploy_city

    admin_address = parse_address(admin, "an address for --admin")
    config = settings(rpc_url, network, deployments_dir)
    grants: dict[Role, list[tuple[str, int]]] = {}
    for text in grant or []:
        role, address, delay = parse_grant(text)
        grants.setdefault(role, []).append((address, delay))
    deployer = load_signer(signer, keystore_dir, password_file)
    plan = DeployPlan(network, admin_address, mint_limit, grants)
    chain = Chain(config.rpc_url, chain_id=config.chain_id)
    with progress_bar("deploying", "steps", quiet=json_output) as report:
        manifest = deploy_city(chain, deployer, plan, config.deployment_file, report)
    if json_output:
        emit(manifest.__dict__)
        return
    console.print(f"[green]deployed[/green] {network} on chain {manifest.chain_id}:")
    for name, entry in manifest.contracts.items():
        console.print(f"  {name:<17} {entry['address']}  (block {entry['block']})")
    console.print(f"manifest: {config.deployment_file}")


def add_commands(root: typer.Typer) -> None:
    """The ``cityledger.commands`` entry point of ``deploy``."""
    root.command("deploy")(deploy)
