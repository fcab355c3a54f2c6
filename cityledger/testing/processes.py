"""Real chain processes for tests and benchmarks: the embedded node and anvil.

Both are started as separate processes on free loopback ports and stopped at teardown, so tests
exercise exactly what a user runs.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ledger.node.config import NodeOptions

ROOT = Path(__file__).resolve().parents[2]
FOUNDRY = ROOT / "contracts" / "node_modules" / "@foundry-rs"
ANVIL = FOUNDRY / "anvil-linux-amd64" / "bin" / "anvil"
CAST = FOUNDRY / "cast-linux-amd64" / "bin" / "cast"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


_CLIENT = httpx.Client()
"""One pooled client: ``httpx.post`` builds a new client (and SSL context) per call, ~30 ms."""


def rpc(url: str, method: str, *params: object, timeout: float = 10.0) -> object:
    """One JSON-RPC call; returns ``result`` or raises RuntimeError with the error object."""
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    document = _CLIENT.post(url, json=body, timeout=timeout).json()
    if "error" in document:
        raise RuntimeError(json.dumps(document["error"]))
    return document["result"]


RPC_BATCH_LIMIT: int = NodeOptions.model_fields["max_batch_requests"].default
"""The node refuses larger batches (with one error object instead of a list of answers)."""


def rpc_batch(
    url: str, calls: list[tuple[str, list[object]]], timeout: float = 30.0
) -> list[object]:
    """Many calls in JSON-RPC batches of at most RPC_BATCH_LIMIT; results in call order
    (errors raise)."""
    results: list[object] = []
    for start in range(0, len(calls), RPC_BATCH_LIMIT):
        results += _one_batch(url, calls[start : start + RPC_BATCH_LIMIT], timeout)
    return results


def _one_batch(url: str, calls: list[tuple[str, list[object]]], timeout: float) -> list[object]:
    body = [
        {"jsonrpc": "2.0", "id": i, "method": method, "params": params}
        for i, (method, params) in enumerate(calls)
    ]
    answers = _CLIENT.post(url, json=body, timeout=timeout).json()
    if not isinstance(answers, list):  # the whole batch was refused
        raise RuntimeError(json.dumps(answers.get("error", answers)))
    by_id = {answer["id"]: answer for answer in answers}
    if any("error" in answer for answer in answers):
        raise RuntimeError(json.dumps([a["error"] for a in answers if "error" in a][:3]))
    return [by_id[i]["result"] for i in range(len(calls))]


@dataclass
class NodeProcess:
    """A ``cityledger node`` child process serving on ``url``."""

    genesis_path: Path
    data_dir: Path
    port: int
    extra_args: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir.parent / f"{self.data_dir.name}.log"

    def start(self, timeout: float = 60.0) -> NodeProcess:
        command = [
            sys.executable,
            "-m",
            "cityledger",
            "node",
            "--genesis",
            str(self.genesis_path),
            "--data-dir",
            str(self.data_dir),
            "--port",
            str(self.port),
            "--log-format",
            "json",
            # Tests send thousands of one-transaction blocks in a row; the clock-drift brake
            # (tested on its own) would pace them at one a second.
            "--max-clock-drift",
            "1000000000",
            *self.extra_args,
        ]
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            command, stdout=log, stderr=log, env={**os.environ, **self.env}, cwd=ROOT
        )
        wait_until_serving(self.url, self.process, timeout, self.log_path)
        return self

    def kill9(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM and wait; returns the exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


def wait_until_serving(
    url: str, process: subprocess.Popen[bytes], timeout: float, log_path: Path | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log_path.read_text() if log_path and log_path.exists() else ""
            raise RuntimeError(f"process exited with {process.returncode}:\n{output[-3000:]}")
        try:
            rpc(url, "eth_chainId", timeout=1.0)
            return
        except (httpx.HTTPError, RuntimeError, ValueError):
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{url} did not start within {timeout} s")


@dataclass
class AnvilProcess:
    """An anvil (Foundry) node: free gas, our chain id, no prefunded magic beyond its own."""

    port: int
    chain_id: int
    process: subprocess.Popen[bytes] | None = None
    extra_args: tuple[str, ...] = ()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> AnvilProcess:
        if not ANVIL.exists():
            raise FileNotFoundError(f"{ANVIL} is missing: run `cd contracts && npm ci`")
        self.process = subprocess.Popen(
            [
                str(ANVIL),
                "--port",
                str(self.port),
                "--chain-id",
                str(self.chain_id),
                "--base-fee",
                "0",
                "--gas-price",
                "0",
                "--silent",
                *self.extra_args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until_serving(self.url, self.process, timeout)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
