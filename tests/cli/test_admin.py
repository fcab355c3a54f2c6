"""`cityledger admin` and `cityledger deploy` as staff use them, against a deployed city."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from typer.testing import CliRunner

from cityledger.cli import app
from cityledger.testing.city import TestCity
from cityledger.testing.processes import NodeProcess
from ledger.keys import KeyStore
from ledger.types import AccountStatus

runner = CliRunner()
PEPPER = "test-pepper-for-credentials"


def admin(city: TestCity, signer: LocalAccount | None, *args: str) -> tuple[int, str]:
    """Run `cityledger admin …` signing with ``signer`` (via $CITYLEDGER_SIGNER_KEY)."""
    env = {"CITYLEDGER_CREDENTIAL_PEPPER": PEPPER}
    if signer is not None:
        env["CITYLEDGER_SIGNER_KEY"] = signer.key.hex()
    result = runner.invoke(
        app,
        [
            "admin",
            "--rpc-url",
            city.url,
            "--network",
            city.manifest_path.stem,
            "--deployments-dir",
            str(city.manifest_path.parent),
            *args,
        ],
        env=env,
    )
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_register_mint_freeze_recover_supply(test_city: TestCity) -> None:
    resident, replacement = Account.create(), Account.create()
    code, out = admin(
        test_city,
        test_city.registrar,
        "register",
        resident.address,
        "--kind",
        "resident",
        "--district",
        "5101",
        "--credential",
        "card-0001",
    )
    assert code == 0, out
    code, out = admin(
        test_city, test_city.treasury, "mint", resident.address, "₩50,000", "--ref", "CLI-DEP-1"
    )
    assert code == 0, out
    assert test_city.city.token.balance_of(resident.address) == 50_000

    code, out = admin(
        test_city, test_city.treasury, "mint", resident.address, "1", "--ref", "CLI-DEP-1"
    )
    assert code == 1
    assert "deposit reference CLI-DEP-1 was already used" in out

    assert admin(test_city, test_city.registrar, "freeze", resident.address)[0] == 0
    code, out = admin(
        test_city, test_city.treasury, "mint", resident.address, "5", "--ref", "CLI-DEP-2"
    )
    assert code == 1
    assert "is not active" in out

    code, out = admin(
        test_city, test_city.registrar, "recover", resident.address, replacement.address
    )
    assert code == 0, out
    registry = test_city.city.registry
    assert registry.registration_of(resident.address).status is AccountStatus.RETIRED
    assert registry.registration_of(replacement.address).status is AccountStatus.ACTIVE
    assert test_city.city.token.balance_of(replacement.address) == 50_000

    code, out = admin(test_city, None, "account", replacement.address, "--json")
    assert code == 0, out
    shown = json.loads(out)
    assert shown["balance"] == 50_000
    assert shown["status"] == "active"

    code, out = admin(test_city, None, "supply", "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["minted"] - report["burned"] == report["outstanding"]
    assert any(c["reference"] == "CLI-DEP-1" for c in report["changes"])


def test_roles_are_enforced_by_the_chain_not_the_cli(test_city: TestCity) -> None:
    stranger = Account.create()
    code, out = admin(test_city, test_city.registrar, "mint", stranger.address, "5", "--ref", "X-1")
    assert code == 1
    assert "lacks the role" in out
    code, out = admin(test_city, test_city.pauser, "grant", "treasury", stranger.address)
    assert code == 1
    assert "lacks role" in out
    code, out = admin(test_city, test_city.admin, "grant", "election-admin", stranger.address)
    assert code == 0, out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["mint", "0x1234", "5", "--ref", "R"], "not an account address"),
        (["mint", "0x" + "11" * 20, "5.5", "--ref", "R"], "not an amount in whole won"),
        (["mint", "0x" + "11" * 20, "5", "--ref", "x" * 40], "1 to 32 bytes"),
        (["grant", "mayor", "0x" + "11" * 20], "unknown role 'mayor'"),
        (
            [
                "register",
                "0x" + "11" * 20,
                "--kind",
                "alien",
                "--district",
                "1",
                "--credential",
                "c",
            ],
            "unknown account kind",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_1(
    test_city: TestCity, args: list[str], message: str
) -> None:
    code, out = admin(test_city, test_city.admin, *args)
    assert code == 1
    assert message in out


def test_missing_signer_and_missing_manifest(test_city: TestCity, tmp_path: Path) -> None:
    code, out = admin(test_city, None, "pause")
    assert code == 1
    assert "say who signs" in out
    result = runner.invoke(app, ["admin", "--deployments-dir", str(tmp_path), "supply"], env={})
    assert result.exit_code == 1
    assert "no deployment manifest" in result.output


def test_deploy_command_with_a_keystore_signer(
    node_factory: object, tmp_path: Path, accounts: list[LocalAccount]
) -> None:
    from cityledger.testing.accounts import write_genesis

    write_genesis(tmp_path / "genesis.json", accounts)
    node: NodeProcess = node_factory(tmp_path / "genesis.json", "--block-period", "0")  # type: ignore[operator]
    keys = KeyStore(tmp_path / "keys")
    keys.import_private_key("deployer", accounts[0].key.hex(), "pw", scrypt_n=16)
    (tmp_path / "pw").write_text("pw\n")
    args = [
        "deploy",
        "--rpc-url",
        node.url,
        "--network",
        "city",
        "--deployments-dir",
        str(tmp_path / "deployments"),
        "--as",
        "deployer",
        "--keystore-dir",
        str(tmp_path / "keys"),
        "--password-file",
        str(tmp_path / "pw"),
        "--admin",
        accounts[1].address,
        "--grant",
        f"treasury={accounts[2].address}",
        "--grant",
        f"treasury-large={accounts[2].address}@60",
        "--json",
    ]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    manifest = json.loads(first.output)
    assert manifest["complete"]
    again = runner.invoke(app, args)
    assert again.exit_code == 0
    assert json.loads(again.output)["contracts"] == manifest["contracts"]
    bad = runner.invoke(app, [*args[:-1], "--grant", "treasury=nobody"])
    assert bad.exit_code == 1
    assert "ROLE=ADDRESS" in bad.output
    admin_at = args.index("--admin") + 1
    no_admin = runner.invoke(app, [*args[:admin_at], "0x1234", *args[admin_at + 1 :]])
    assert no_admin.exit_code == 1
    assert "'0x1234' is not an address for --admin" in no_admin.output
