"""The README's walkthrough, command for command, on a fresh `cityledger up`.

A resident creates a wallet, staff register her and top her up, and she pays another resident.
If this test fails, the README is lying.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from cityledger.testing.processes import free_port


def _env_file(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^export (\w+)=(.*)$", path.read_text(), flags=re.MULTILINE))


def _run(env: dict[str, str], *command: str) -> str:
    module = "cityledger" if command[0] == "cityledger" else "wallet_cli"
    result = subprocess.run(
        [sys.executable, "-m", module, *command[1:]],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


@pytest.mark.slow
def test_resident_gets_a_wallet_is_registered_topped_up_and_pays(tmp_path: Path) -> None:
    data = tmp_path / ".cityledger"
    port, api_port = free_port(), free_port()
    log = (tmp_path / "up.log").open("wb")
    command = ["up", "--data-dir", str(data), "--port", str(port), "--api-port", str(api_port)]
    up = subprocess.Popen(
        [sys.executable, "-m", "cityledger", *command],
        stdout=log,
        stderr=log,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 120
        while not (data / "env").exists():
            assert up.poll() is None, (tmp_path / "up.log").read_text()
            assert time.monotonic() < deadline, (tmp_path / "up.log").read_text()
            time.sleep(0.2)
        env = {**os.environ, **_env_file(data / "env")}  # the demo password for every key

        _run(env, "wallet", "new", "alice", "--scrypt-n", "16")
        alice = _run(env, "wallet", "address", "alice").strip()
        _run(
            env,
            "cityledger",
            "admin",
            "--as",
            "registrar",
            "register",
            alice,
            "--kind",
            "resident",
            "--district",
            "5101",
            "--credential",
            "card-1234",
        )
        _run(
            env,
            "cityledger",
            "admin",
            "--as",
            "treasury",
            "mint",
            alice,
            "₩50,000",
            "--ref",
            "BANK-2026-0001",
        )
        assert "₩50,000" in _run(env, "wallet", "balance", "alice")
        _run(env, "wallet", "send", "alice", "resident-2", "12,000", "--yes")
        assert "₩38,000" in _run(env, "wallet", "balance", "alice")
        history = _run(env, "wallet", "history", "alice")
        assert "-₩12,000" in history
        assert "BANK-2026-0001" in history

        # The README's shop: merchant-1's till asks the API for an invoice, alice pays it.
        key = (data / "merchant-1.api-key").read_text().strip()
        created = httpx.post(
            f"{env['CITYLEDGER_API_URL']}/invoices",
            json={"amount": 10000},
            headers={"Authorization": f"Bearer {key}"},
            timeout=30,
        )
        assert created.status_code == 201, created.text
        paid = _run(env, "wallet", "pay", "alice", created.json()["ref"], "--yes")
        assert "you got ₩100 back as points" in paid
        assert "₩28,100" in _run(env, "wallet", "balance", "alice")
        assert "₩100" in _run(env, "wallet", "points", "alice")

        # Ctrl-C: the indexer and the API stop before the node, so nothing complains.
        up.send_signal(signal.SIGINT)
        assert up.wait(60) == 0
        shutdown = (tmp_path / "up.log").read_text()
        assert "chain_error" not in shutdown, shutdown
        assert "Traceback" not in shutdown, shutdown
    finally:
        if up.poll() is None:
            up.terminate()
            up.wait(30)
