"""The `wallet` CLI driven in-process with the city's connection options (shared by the suites)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from typer.testing import CliRunner, Result

from cityledger.testing.city import TestCity
from wallet_cli.main import app

FAST = ("--scrypt-n", "16")
PASSWORD = "correct horse battery"
PEPPER = b"test pepper"
DEPOSIT = 100_000
CLEAN_ENV: dict[str, str | None] = dict.fromkeys(
    (
        "CITYLEDGER_RPC_URL",
        "CITYLEDGER_NETWORK",
        "CITYLEDGER_DEPLOYMENTS_DIR",
        "CITYLEDGER_KEYSTORE_DIR",
        "CITYLEDGER_WALLET_CONFIG",
        "CITYLEDGER_PASSWORD",
        "CITYLEDGER_PASSWORD_FILE",
        "CITYLEDGER_WALLET_PASSWORD",
        "CITYLEDGER_WALLET_PASSWORD_FILE",
    )
)


@dataclass
class Wallet:
    """The CLI with the city's connection options and a keystore directory of its own."""

    city: TestCity
    keystore: Path
    home: Path

    @property
    def options(self) -> list[str]:
        return [
            "--rpc-url",
            self.city.url,
            "--network",
            self.city.manifest_path.stem,
            "--deployments-dir",
            str(self.city.manifest_path.parent),
            "--keystore-dir",
            str(self.keystore),
        ]

    def __call__(
        self, *args: str, input: str | None = None, password: str | None = PASSWORD, **env: str
    ) -> Result:
        environment = {**CLEAN_ENV, "HOME": str(self.home), **env}
        if password is not None:
            environment["CITYLEDGER_PASSWORD"] = password
        command, *rest = args  # the options go first so that `--` can end them
        return CliRunner().invoke(
            app, [command, *self.options, *rest], input=input, env=environment
        )

    def ok(
        self, *args: str, input: str | None = None, password: str | None = PASSWORD, **env: str
    ) -> Result:
        result = self(*args, input=input, password=password, **env)
        assert result.exit_code == 0, f"{args}: {result.output}"
        return result

    def json(self, *args: str, password: str | None = PASSWORD, **env: str) -> Any:
        return json.loads(self.ok(*args, "--json", password=password, **env).stdout)

    def nonce(self, account: LocalAccount) -> int:
        return self.city.city.chain.w3.eth.get_transaction_count(account.address)


def one_line_error(result: Result, *fragments: str, code: int = 1) -> str:
    """The run failed with ``code`` and said why in one line, with no traceback."""
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]
