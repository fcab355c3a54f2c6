"""What the webhook suites share beyond cityledger/testing/api.py: `cityledger serve` as a process
(to kill -9), a merchant endpoint that hangs until released, a bare TCP port that counts
every connection made to it (SSRF: it must see none), and the bytes of a SQLite database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from cityledger.testing.api import SECRET, SIWE_DOMAIN, World
from cityledger.testing.processes import ROOT

HANG_LIMIT = 300.0
"""A hanging endpoint answers after this long even if never released (no stuck threads)."""


def serve_process(
    world: World, port: int, log: Path, *, db_url: str | None = None, **env: str
) -> subprocess.Popen[bytes]:
    """``cityledger serve`` on ``port`` over the world's chain (and its database unless
    ``db_url``), webhooks on and fast; returns once ``/health`` answers."""
    environment = {
        **os.environ,
        "CITYLEDGER_API_ENVIRONMENT": "staging",
        "CITYLEDGER_API_SECRET_KEY": SECRET,
        "CITYLEDGER_API_SIWE_DOMAIN": SIWE_DOMAIN,
        "CITYLEDGER_API_SERVICE_KEY": world.service.key.hex(),
        "CITYLEDGER_API_WEBHOOK_POLL_INTERVAL": "0.1",
        "CITYLEDGER_API_WEBHOOK_BACKOFF_BASE": "0.3",
        "CITYLEDGER_API_WEBHOOK_BACKOFF_MAX": "0.6",
        "CITYLEDGER_API_WEBHOOK_ALLOW_PRIVATE_HOSTS": "true",
        **env,
    }
    command = [
        sys.executable,
        "-m",
        "cityledger",
        "serve",
        "--port",
        str(port),
        "--db-url",
        db_url or world.db_url,
        "--rpc-url",
        world.city.url,
        "--network",
        world.city.manifest_path.stem,
        "--deployments-dir",
        str(world.city.manifest_path.parent),
        "--log-level",
        "warning",
    ]
    handle = log.open("ab")
    process = subprocess.Popen(command, env=environment, cwd=ROOT, stdout=handle, stderr=handle)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"cityledger serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("cityledger serve did not start")


class HangingReceiver:
    """A merchant's endpoint that takes every delivery and answers nothing until
    :meth:`release` (then 200): the slow merchant."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self.lock = threading.Lock()
        self.received: list[bytes] = []
        self.waiting = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.received.append(body)
                    receiver.waiting += 1
                receiver.released.wait(HANG_LIMIT)
                with receiver.lock:
                    receiver.waiting -= 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def hanging(self) -> int:
        """How many deliveries are being held open right now."""
        with self.lock:
            return self.waiting

    def release(self) -> None:
        self.released.set()

    def stop(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()


class Listener:
    """A TCP port on 127.0.0.1 that counts the connections made to it (closing each at once):
    an internal service that webhooks must never reach."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.1)
        self.connections = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        port: int = self.sock.getsockname()[1]
        return port

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            connection.close()

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(5)
        self.sock.close()


def database_bytes(db_url: str) -> bytes:
    """The rows a SQLite database keeps on disk: its file and its WAL (the ``-shm`` index
    holds page numbers only).

    Read by a child process: closing any descriptor of the database file drops every POSIX
    lock this process holds on it, SQLite's included, and another process may then take
    itself for the last user and checkpoint the WAL away under our connections."""
    path = Path(db_url.removeprefix("sqlite:///"))
    parts = [str(p) for p in (path, path.with_name(path.name + "-wal")) if p.exists()]
    return subprocess.run(["cat", *parts], capture_output=True, check=True).stdout
