"""The node's HTTP server: a bare ASGI app under uvicorn, and the process lifecycle.

POST / takes JSON-RPC (single or batch); GET /health answers the head and sealer state for
load balancers and the test fixtures. SIGTERM/SIGINT stop accepting requests, seal what is
executable and close the store; SIGHUP re-reads the accounts allowlist file. If the sealer
cannot write a block, the server stops the same way and :func:`serve` raises
:class:`SealingFailed`: the node is crash-only, and its supervisor restarts it.
"""

from __future__ import annotations

import contextlib
import json
import signal
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any

import structlog
import uvicorn

from ledger.node.errors import SealingFailed, describe
from ledger.node.node import Node
from ledger.node.rpc import codes
from ledger.node.rpc.dispatch import Dispatcher

log = structlog.get_logger("cityledger.node.server")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


class RequestTooLarge(Exception):
    """The request body passed the size limit."""


class RpcApp:
    """ASGI application serving one node's JSON-RPC."""

    def __init__(self, node: Node) -> None:
        self.node = node
        self.dispatcher = Dispatcher(
            node,
            admin_token=node.options.admin_token,
            max_batch=node.options.max_batch_requests,
            call_seconds=node.options.rpc_call_timeout,
            batch_call_seconds=node.options.rpc_batch_call_budget,
        )
        self._max_bytes = node.options.max_request_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if scope["method"] == "GET" and scope["path"] in ("/health", "/healthz"):
            await self._health(send)
            return
        if scope["method"] != "POST":
            await _respond(send, 405, {"error": "use POST for JSON-RPC, GET /health for status"})
            return
        try:
            body = await self._read_body(scope, receive)
        except RequestTooLarge:
            await _respond(
                send,
                413,
                _rpc_error(f"request body exceeds {self._max_bytes} bytes"),
            )
            return
        headers = dict(scope["headers"])
        authorization = headers.get(b"authorization", b"").decode("latin-1")
        token = authorization[7:] if authorization.lower().startswith("bearer ") else None
        answer = await self.dispatcher.handle_body(body, token=token)
        if answer is None:
            await _respond(send, 204, None)
            return
        await _respond(send, 200, answer)

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_bytes:
            raise RequestTooLarge
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self._max_bytes:
                raise RequestTooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    async def _health(self, send: Send) -> None:
        head = self.node.head
        status = 200 if self.node.healthy else 503
        await _respond(
            send,
            status,
            {
                "chainId": self.node.chain_id,
                "head": head.block_number,
                "headHash": "0x" + head.hash.hex(),
                "pending": len(self.node.pending_transactions()),
                "sealer": "ok" if self.node.healthy else "failed",
            },
        )


def _rpc_error(message: str) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": codes.INVALID_REQUEST, "message": message},
    }


async def _respond(send: Send, status: int, document: Any) -> None:
    body = b"" if document is None else json.dumps(document, separators=(",", ":")).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGTERM/SIGINT after its own shutdown, which would kill the process
    before the node seals and closes its store; here the signals only ask it to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        previous = {
            sig: signal.signal(sig, lambda *_: self._stop())
            for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def __init__(self, config: uvicorn.Config, on_stop: Callable[[], None] | None) -> None:
        super().__init__(config)
        self._on_stop = on_stop

    def _stop(self) -> None:
        if self.should_exit:
            self.force_exit = True
        elif self._on_stop is not None:
            self._on_stop()
        self.should_exit = True

    def stop_soon(self) -> None:
        """Stop as on SIGTERM, from any thread (uvicorn polls ``should_exit``)."""
        if not self.should_exit:
            self._stop()


def serve(node: Node, on_stop: Callable[[], None] | None = None) -> None:
    """Run the node until SIGTERM/SIGINT, then shut down cleanly (seal, close the store).

    ``on_stop`` is called (from the signal handler: it must not block) when the signal
    arrives, while the node still serves: clients in the same process stop first.
    """
    config = uvicorn.Config(
        RpcApp(node),
        host=node.options.host,
        port=node.options.port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=10,
    )
    server = _Server(config, on_stop)

    def reload_allowlist(_signum: int, _frame: object) -> None:
        try:
            node.allowlist.reload()
            log.info("allowlist_reloaded", accounts=len(node.allowlist.accounts()))
        except Exception as exc:
            log.error("allowlist_reload_failed", error=str(exc))

    def sealer_failed(error: BaseException) -> None:
        log.error("node_stopping", reason="a block could not be written", error=describe(error))
        server.stop_soon()

    signal.signal(signal.SIGHUP, reload_allowlist)
    node.start(on_failure=sealer_failed)
    log.info(
        "node_listening",
        url=f"http://{node.options.host}:{node.options.port}",
        chain_id=node.chain_id,
        head=node.head.block_number,
    )
    try:
        server.run()
    finally:
        node.close()
    if (failure := node.failure) is not None:
        raise SealingFailed(
            f"stopped: the node could not write block {node.head.block_number + 1} "
            f"({describe(failure)}); blocks up to {node.head.block_number} "
            "are intact and a restart reopens them"
        ) from failure
