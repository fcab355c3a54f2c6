"""The `wallet` command line, driven as a person or a script would, against a deployed city.

Commands run in-process through typer's CliRunner (and once as `python -m wallet_cli`) on the
module's embedded node; keystores use a fast scrypt cost. Every failure must be one line on
stderr with exit 1 (2 for usage), and a refused send must leave the sender's nonce unchanged.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from typer.testing import CliRunner

from cityledger.testing.city import TestCity
from cityledger.testing.processes import ROOT, free_port
from ledger.contracts.registry import credential_hash
from ledger.types import AccountKind
from tests.wallet.helpers import CLEAN_ENV, DEPOSIT, FAST, PASSWORD, PEPPER, Wallet, one_line_error
from wallet_cli.errors import DEBUG_ENV, exit_code_for
from wallet_cli.history import account_history
from wallet_cli.main import app
from wallet_cli.payment import parse_payment_uri


@pytest.fixture(scope="module")
def wallet(test_city: TestCity, tmp_path_factory: pytest.TempPathFactory) -> Wallet:
    root = tmp_path_factory.mktemp("wallet")
    return Wallet(test_city, root / "keys", root / "home")


@pytest.fixture(scope="module")
def alice(wallet: Wallet, tmp_path_factory: pytest.TempPathFactory) -> LocalAccount:
    """A registered resident holding the initial deposit, imported from a private key file."""
    account = wallet.city.people[0]
    key_file = tmp_path_factory.mktemp("alice") / "key.txt"
    key_file.write_text(account.key.to_0x_hex() + "\n")
    wallet.ok("import", "alice", "--private-key-file", str(key_file), *FAST)
    city = wallet.city
    city.city.registry.register(
        city.registrar, account.address, AccountKind.RESIDENT, 501, credential_hash("a", PEPPER)
    )
    city.city.token.mint(city.treasury, account.address, DEPOSIT, "bank-deposit-1")
    return account


@pytest.fixture(scope="module")
def bob(wallet: Wallet, tmp_path_factory: pytest.TempPathFactory) -> LocalAccount:
    """A registered merchant, imported from a keystore file."""
    account = wallet.city.people[1]
    keystore = tmp_path_factory.mktemp("bob") / "bob.json"
    keystore.write_text(json.dumps(Account.encrypt(account.key, "bobs pw", iterations=16)))
    wallet.ok("import", "bob", "--keystore", str(keystore), password="bobs pw")
    city = wallet.city
    city.city.registry.register(
        city.registrar, account.address, AccountKind.MERCHANT, 501, credential_hash("b", PEPPER)
    )
    return account


# -- keys -----------------------------------------------------------------------------------
def test_new_list_address_export(wallet: Wallet, tmp_path: Path) -> None:
    created = wallet.ok("new", "carol", *FAST, input="s3cret\ns3cret\n", password=None)
    path = wallet.keystore / "carol.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    address = wallet.ok("address", "carol").stdout.strip()
    assert address in created.stdout
    key = Account.decrypt(json.loads(path.read_text()), "s3cret").hex()

    listing = wallet.ok("list")
    assert "carol" in listing.stdout
    assert address in listing.stdout
    assert {"alias": "carol", "address": address} in wallet.json("list")
    assert wallet.json("address", "carol") == {"alias": "carol", "address": address}

    exported = wallet.ok("export", "carol")
    assert json.loads(exported.stdout) == json.loads(path.read_text())
    out = tmp_path / "carol-backup.json"
    written = wallet.ok("export", "carol", "--out", str(out))
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert json.loads(out.read_text())["address"].lower() == address[2:].lower()
    for result in (created, listing, exported, written):
        assert key not in result.output
        assert key[2:] not in result.output

    one_line_error(wallet("export", "carol", "--out", str(out)), "exists already")
    one_line_error(wallet("new", "carol", *FAST), "exists already")
    one_line_error(wallet("address", "nobody"), "no key called 'nobody'")
    one_line_error(wallet("new", "Bad/Alias", *FAST), "not a valid alias")
    no_password = wallet("new", "dave", *FAST, input="", password=None)  # stdin at its end
    assert no_password.exit_code == 1
    assert no_password.stderr.splitlines()[-1].startswith("error: no password given")
    assert not (wallet.keystore / "dave.json").exists()


def test_import_from_key_env_and_keystore(wallet: Wallet, tmp_path: Path) -> None:
    account = Account.create()
    imported = wallet.json(
        "import", "erin", "--private-key-env", "ERIN_KEY", *FAST, ERIN_KEY=account.key.hex()
    )
    assert imported == {
        "alias": "erin",
        "address": account.address,
        "keystore": str(wallet.keystore / "erin.json"),
    }
    keystore = tmp_path / "frank.json"
    keystore.write_text(json.dumps(Account.encrypt(account.key, "old", iterations=16)))
    password_file = tmp_path / "password"
    password_file.write_text("old\n")
    result = wallet.ok(
        "import", "frank", "--keystore", str(keystore), "--password-file", str(password_file)
    )
    assert account.address in result.stdout
    assert account.key.hex() not in result.output

    one_line_error(
        wallet("import", "gina", "--keystore", str(keystore), password="nope"), "wrong password"
    )
    one_line_error(wallet("import", "gina", "--private-key-env", "UNSET_KEY", *FAST), "not set")
    bad_key = tmp_path / "bad.txt"
    bad_key.write_text("0x1234")
    one_line_error(
        wallet("import", "gina", "--private-key-file", str(bad_key), *FAST), "not a valid private"
    )
    one_line_error(wallet("import", "gina"), "exactly one of", code=2)
    assert not (wallet.keystore / "gina.json").exists()


# -- the token ------------------------------------------------------------------------------
def test_balance(wallet: Wallet, alice: LocalAccount) -> None:
    shown = wallet.ok("balance", "alice").stdout
    assert "₩100,000" in shown
    assert "active resident, district 501" in shown
    assert wallet.json("balance", alice.address.lower()) == {
        "alias": "alice",
        "address": alice.address,
        "balance": DEPOSIT,
        "status": "active",
        "kind": "resident",
        "district": 501,
    }
    stranger = Account.create().address
    assert "not registered" in wallet.ok("balance", stranger).stdout


def test_send_and_history(wallet: Wallet, alice: LocalAccount, bob: LocalAccount) -> None:
    sent = wallet.ok("send", "alice", "bob", "₩12,345", "--yes")
    assert "sent ₩12,345 to bob in block" in sent.stdout
    assert "balance of alice: ₩87,655" in sent.stdout
    token = wallet.city.city.token
    assert token.balance_of(bob.address) == 12_345

    # Asked to confirm: "y" sends, anything else sends nothing.
    confirmed = wallet.ok("send", "alice", bob.address, "1,000", input="y\n")
    assert "Send ₩1,000 to bob?" in confirmed.stderr
    nonce = wallet.nonce(alice)
    declined = wallet("send", "alice", "bob", "5", input="n\n")
    assert declined.exit_code == 1
    assert declined.stderr.rstrip().endswith("error: cancelled: nothing was sent")
    assert wallet.nonce(alice) == nonce

    receipt = wallet.json("send", "bob", "alice", "345", "--yes", password="bobs pw")
    assert isinstance(receipt, dict)
    assert receipt["amount"] == 345
    assert receipt["to"] == alice.address
    assert receipt["balance"] == 12_345 + 1_000 - 345
    assert token.balance_of(alice.address) == DEPOSIT - 12_345 - 1_000 + 345

    table = wallet.ok("history", "alice").stdout
    assert "deposit" in table
    assert "bank-deposit-1" in table
    assert "+₩100,000" in table
    assert "-₩12,345" in table
    assert "bob" in table
    movements = wallet.json("history", "alice")["movements"]
    assert [(m["kind"], m["amount"]) for m in movements] == [
        ("in", 345),
        ("out", -1_000),
        ("out", -12_345),
        ("deposit", DEPOSIT),
    ]
    assert movements[0]["counterparty"] == bob.address
    assert movements[0]["counterparty_alias"] == "bob"
    assert movements[0]["tx_hash"] == receipt["tx_hash"]
    assert movements[3]["reference"] == "bank-deposit-1"
    assert movements[0]["block"] > movements[3]["block"]
    limited = wallet.json("history", "bob", "--limit", "1")["movements"]
    assert [(m["kind"], m["amount"]) for m in limited] == [("out", -345)]


def test_redemption_shows_as_redeem(wallet: Wallet, alice: LocalAccount) -> None:
    wallet.city.city.token.redeem(alice, 500, "settle-1")
    latest = wallet.json("history", "alice", "-n", "1")["movements"][0]
    assert (latest["kind"], latest["amount"], latest["reference"]) == ("redeem", -500, "settle-1")


def test_history_reads_logs_in_windows(wallet: Wallet, alice: LocalAccount) -> None:
    city = wallet.city.city
    span = {"first_block": 0, "last_block": city.chain.block_number()}
    whole = account_history(city.token, alice.address, limit=None, **span)
    assert account_history(city.token, alice.address, limit=None, window=3, **span) == whole
    scanned: list[int] = []
    newest = account_history(
        city.token, alice.address, limit=2, window=1, on_window=scanned.append, **span
    )
    assert newest == whole[:2]
    assert len(scanned) < span["last_block"]  # stopped once it had two


def test_receive(wallet: Wallet, alice: LocalAccount) -> None:
    shown = wallet.ok("receive", "alice", "--amount", "12,000").stdout
    uri = next(line for line in shown.splitlines() if "ethereum:" in line).split()[-1]
    request = parse_payment_uri(uri)
    assert request.token == wallet.city.city.token.address
    assert request.chain_id == wallet.city.city.chain.chain_id
    assert (request.recipient, request.amount) == (alice.address, 12_000)
    assert "█" in shown
    assert "▀" in shown

    plain = wallet.json("receive", "alice")
    assert isinstance(plain, dict)
    assert parse_payment_uri(plain["uri"]).amount is None
    assert plain["address"] == alice.address


# -- what goes wrong ------------------------------------------------------------------------
@pytest.fixture
def unchanged_nonce(wallet: Wallet, alice: LocalAccount, bob: LocalAccount) -> Iterator[None]:
    """A refused send signs nothing: alice's nonce is the same afterwards."""
    before = wallet.nonce(alice)
    yield
    assert wallet.nonce(alice) == before


@pytest.mark.usefixtures("unchanged_nonce")
@pytest.mark.parametrize(
    ("args", "password", "message"),
    [
        (("alice", "bob", "10"), "wrong", "wrong password for key 'alice'"),
        (("nobody", "bob", "10"), PASSWORD, "no key called 'nobody'"),
        (("alice", "nobody", "10"), PASSWORD, "no key called 'nobody'"),
        (("alice", "0x1234", "10"), PASSWORD, "'0x1234' is not an address"),
        (("alice", "bob", "12.5"), PASSWORD, "not an amount in whole won"),
        (("alice", "bob", "-3"), PASSWORD, "not an amount in whole won"),
        (("alice", "bob", "0"), PASSWORD, "at least ₩1"),
        (("alice", "bob", "₩10,000,000"), PASSWORD, "insufficient balance: alice"),
    ],
    ids=[
        "wrong-password",
        "unknown-sender",
        "unknown-recipient",
        "invalid-address",
        "fraction",
        "negative",
        "zero",
        "insufficient-balance",
    ],
)
def test_send_errors(wallet: Wallet, args: tuple[str, ...], password: str, message: str) -> None:
    one_line_error(wallet("send", "--yes", "--", *args, password=password), message)


@pytest.mark.usefixtures("unchanged_nonce")
def test_send_to_unregistered_frozen_or_while_paused(wallet: Wallet, bob: LocalAccount) -> None:
    city = wallet.city
    stranger = Account.create().address
    one_line_error(wallet("send", "alice", stranger, "10", "--yes"), "is not registered")

    city.city.registry.freeze(city.registrar, bob.address)
    try:
        line = one_line_error(wallet("send", "alice", "bob", "10", "--yes"), "is frozen")
        assert "recipient bob" in line
    finally:
        city.city.registry.unfreeze(city.registrar, bob.address)

    city.city.token.pause(city.pauser)
    try:
        one_line_error(wallet("send", "alice", "bob", "10", "--yes"), "token is paused")
    finally:
        city.city.token.unpause(city.pauser)


def test_connection_errors(wallet: Wallet, tmp_path: Path) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    one_line_error(wallet("balance", "alice", "--rpc-url", down), "cannot reach the chain node")

    manifest = json.loads(wallet.city.manifest_path.read_text())
    (tmp_path / "other.json").write_text(json.dumps({**manifest, "chain_id": 1}))
    one_line_error(
        wallet("balance", "alice", "--deployments-dir", str(tmp_path), "--network", "other"),
        "serves chain 44051, expected 1",
    )
    contracts = manifest["contracts"]
    stale = {**contracts, "CityToken": {**contracts["CityToken"], "address": "0x" + "22" * 20}}
    (tmp_path / "stale.json").write_text(json.dumps({**manifest, "contracts": stale}))
    one_line_error(
        wallet("balance", "alice", "--deployments-dir", str(tmp_path), "--network", "stale"),
        "no CityToken contract at 0x2222",
    )
    one_line_error(
        wallet("send", "alice", "bob", "1", "--yes", "--network", "nowhere"),
        "no deployment manifest",
    )
    one_line_error(
        wallet("receive", "alice", "--deployments-dir", str(tmp_path / "empty")),
        "no deployment manifest",
    )


def test_usage_errors_are_one_line(wallet: Wallet) -> None:
    one_line_error(wallet("send", "alice"), "Missing argument", code=2)
    one_line_error(wallet("history", "alice", "--limit", "x"), "--limit", code=2)
    one_line_error(wallet("frobnicate"), "No such command", code=2)


# -- configuration and the entry point ------------------------------------------------------
def test_config_file_then_env_then_flags(wallet: Wallet, tmp_path: Path) -> None:
    config = tmp_path / "wallet.toml"
    config.write_text(
        f'rpc_url = "{wallet.city.url}"\n'
        f'network = "{wallet.city.manifest_path.stem}"\n'
        f'deployments_dir = "{wallet.city.manifest_path.parent}"\n'
        'keystore_dir = "keys"\n'
    )
    env = {**CLEAN_ENV, "HOME": str(wallet.home), "CITYLEDGER_PASSWORD": "pw"}
    runner = CliRunner()
    created = runner.invoke(app, ["new", "zed", "--config", str(config), *FAST], env=env)
    assert created.exit_code == 0, created.output
    assert (tmp_path / "keys" / "zed.json").exists()  # relative to the config file

    env["CITYLEDGER_KEYSTORE_DIR"] = str(wallet.keystore)  # the environment beats the file
    listed = runner.invoke(app, ["list", "--json", "--config", str(config)], env=env)
    assert "zed" not in listed.stdout
    assert "alice" in listed.stdout
    flagged = runner.invoke(
        app,
        ["list", "--json", "--config", str(config), "--keystore-dir", str(tmp_path / "keys")],
        env=env,
    )
    assert [k["alias"] for k in json.loads(flagged.stdout)] == ["zed"]  # the flag beats both

    config.write_text("colour = 'blue'\n")
    result = runner.invoke(app, ["list", "--config", str(config)], env=env)
    one_line_error(result, "unknown setting 'colour'")


def test_python_m_entry_point(wallet: Wallet, alice: LocalAccount) -> None:
    env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
    env["HOME"] = str(wallet.home)
    command = [sys.executable, "-m", "wallet_cli"]
    done = subprocess.run(
        [*command, "balance", "alice", "--json", *wallet.options],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["address"] == alice.address
    failed = subprocess.run(
        [*command, "balance", "nobody", *wallet.options],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
        timeout=60,
    )
    assert failed.returncode == 1
    assert failed.stdout == ""
    assert failed.stderr.strip().splitlines() == [
        f"error: no key called 'nobody' in {wallet.keystore} (see `wallet list`)"
    ]


def test_a_bug_is_one_line_too(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    assert exit_code_for(RuntimeError("boom")) == 1
    assert capsys.readouterr().err == (
        f"error: internal error: RuntimeError: boom (set {DEBUG_ENV}=1 for the traceback)\n"
    )
    monkeypatch.setenv(DEBUG_ENV, "1")
    with pytest.raises(RuntimeError, match="boom"):
        exit_code_for(RuntimeError("boom"))
