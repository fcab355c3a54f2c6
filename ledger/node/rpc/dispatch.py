"""JSON-RPC 2.0 request handling: validation, batches, method lookup and error mapping.

Whatever a client sends, the answer is a JSON-RPC response: the node never dies on input, and
an unexpected exception becomes an internal error (logged) rather than a dropped connection.

Long reads run on worker threads, one at a time in the execution slot (``slot``); calls and
estimates run under a time budget (``allowance``) and take turns in the slot, so the event
loop's cheap reads, the sealer and other calls keep moving while a heavy call runs.
"""

from __future__ import annotations

import hmac
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import anyio
import structlog

from ledger.node.budget import running_under
from ledger.node.node import Node
from ledger.node.rpc import codes
from ledger.node.rpc.allowance import ExecutionAllowance
from ledger.node.rpc.body import BodyError, parse_body
from ledger.node.rpc.errors import RpcError
from ledger.node.rpc.methods import MODULES, MethodInfo
from ledger.node.rpc.slot import ExecutionSlot

log = structlog.get_logger("cityledger.node.rpc")

Json = Any

_WORKER_THREADS = 32
"""Threads that may wait for the execution slot (one runs at a time); beyond, requests wait
on the event loop."""


@dataclass(frozen=True, slots=True)
class Method:
    info: MethodInfo
    function: Callable[..., Any]
    required: int
    accepted: int


def build_methods(node: Node) -> dict[str, Method]:
    methods: dict[str, Method] = {}
    for module_class in MODULES:
        module = module_class(node)
        for _, function in inspect.getmembers(module, inspect.ismethod):
            info: MethodInfo | None = getattr(function, "__rpc__", None)
            if info is None:
                continue
            parameters = list(inspect.signature(function).parameters.values())
            required = sum(1 for x in parameters if x.default is inspect.Parameter.empty)
            methods[info.name] = Method(info, function, required, len(parameters))
    return methods


class Dispatcher:
    """Answers JSON-RPC request bodies for one node."""

    def __init__(
        self,
        node: Node,
        *,
        admin_token: str | None,
        max_batch: int,
        call_seconds: float,
        batch_call_seconds: float,
    ) -> None:
        self.methods = build_methods(node)
        self._slot = ExecutionSlot()
        self._threads = anyio.CapacityLimiter(_WORKER_THREADS)
        self._admin_token = admin_token
        self._max_batch = max_batch
        self._call_seconds = call_seconds
        self._batch_call_seconds = batch_call_seconds

    async def handle_body(self, body: bytes, *, token: str | None) -> Json | None:
        """The response document for ``body``, or ``None`` when it held only notifications."""
        try:
            document = parse_body(body)
        except BodyError as exc:
            return _error_response(None, RpcError(codes.PARSE_ERROR, f"parse error: {exc}"))
        if isinstance(document, list):
            if not document:
                return _error_response(None, RpcError(codes.INVALID_REQUEST, "empty batch"))
            if len(document) > self._max_batch:
                return _error_response(
                    None,
                    RpcError(
                        codes.INVALID_REQUEST,
                        f"batch of {len(document)} requests exceeds the limit of {self._max_batch}",
                    ),
                )
            allowance = ExecutionAllowance(self._call_seconds, self._batch_call_seconds)
            answers = [await self.handle_request(r, token, allowance) for r in document]
            present = [a for a in answers if a is not None]
            return present or None
        return await self.handle_request(document, token, ExecutionAllowance(self._call_seconds))

    async def handle_request(
        self, request: Json, token: str | None, allowance: ExecutionAllowance
    ) -> Json | None:
        if not isinstance(request, dict):
            return _error_response(
                None, RpcError(codes.INVALID_REQUEST, "invalid request: expected an object")
            )
        request_id = request.get("id")
        is_notification = "id" not in request
        try:
            result = await self._call(request, token, allowance)
        except RpcError as exc:
            return None if is_notification else _error_response(request_id, exc)
        if is_notification:
            return None
        return {"jsonrpc": "2.0", "id": request_id, "result": result}

    async def _call(
        self, request: dict[str, Any], token: str | None, allowance: ExecutionAllowance
    ) -> Json:
        request_id = request.get("id")
        if request.get("jsonrpc") != "2.0":
            raise RpcError(codes.INVALID_REQUEST, 'invalid request: jsonrpc must be "2.0"')
        if isinstance(request_id, bool) or not isinstance(request_id, str | int | None):
            raise RpcError(codes.INVALID_REQUEST, "invalid request: bad id")
        name = request.get("method")
        if not isinstance(name, str):
            raise RpcError(codes.INVALID_REQUEST, "invalid request: method must be a string")
        method = self.methods.get(name)
        if method is None:
            raise RpcError(
                codes.METHOD_NOT_FOUND, f"the method {name} does not exist/is not available"
            )
        if method.info.admin and not self._admin_allowed(token):
            raise RpcError(
                codes.UNAUTHORIZED,
                f"{name} needs the node's admin token (Authorization: Bearer ...)",
            )
        params = request.get("params", [])
        if not isinstance(params, list):
            raise RpcError(codes.INVALID_PARAMS, "invalid params: expected a list")
        if not method.required <= len(params) <= method.accepted:
            expected = (
                str(method.required)
                if method.required == method.accepted
                else f"{method.required} to {method.accepted}"
            )
            raise RpcError(
                codes.INVALID_PARAMS,
                f"invalid params: {name} takes {expected} parameters, got {len(params)}",
            )
        return await self._run(method, params, name, allowance)

    async def _run(
        self, method: Method, params: list[Any], name: str, allowance: ExecutionAllowance
    ) -> Json:
        try:
            if method.info.blocking:
                return await anyio.to_thread.run_sync(
                    partial(self._in_slot, method, params, allowance), limiter=self._threads
                )
            return method.function(*params)
        except RpcError:
            raise
        except (ValueError, TypeError, OverflowError) as exc:
            raise RpcError(codes.INVALID_PARAMS, f"invalid params: {exc}") from exc
        except Exception as exc:
            log.exception("rpc_internal_error", method=name)
            raise RpcError(codes.INTERNAL_ERROR, f"internal error: {type(exc).__name__}") from exc

    def _in_slot(self, method: Method, params: list[Any], allowance: ExecutionAllowance) -> Json:
        """Run a long read on this worker thread once the slot is ours; an execution gets its
        budget when it starts, and offers the slot back at each checkpoint."""
        if method.info.executes:
            allowance.ensure_left()
        with self._slot.hold() as turn:
            if not method.info.executes:
                return method.function(*params)
            budget = allowance.next_budget(partial(self._slot.take_turns, turn))
            with running_under(budget):
                return method.function(*params)

    def _admin_allowed(self, token: str | None) -> bool:
        """No admin token configured means the admin methods are off."""
        if not self._admin_token or token is None:
            return False
        return hmac.compare_digest(token.encode(), self._admin_token.encode())


def _error_response(request_id: Any, error: RpcError) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": error.to_json()}
