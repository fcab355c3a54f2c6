"""One JSON error body for every failure, and the mapping of ledger errors to HTTP statuses.

Every error response is ``{"code": "...", "detail": "a sentence", "errors": [...]?}``:
``code`` is stable for programs, ``detail`` is for people.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from ledger.deploy import DeploymentError
from ledger.exceptions import (
    AccessDeniedError,
    ChainError,
    ChainUnavailableError,
    ConfigError,
    ContractRevertError,
    InputError,
    KeystoreError,
    LedgerError,
    TransactionFailedError,
    TransactionRefusedError,
    WrongChainError,
)
from ledger.payments.fees import FeeError
from ledger.payments.orders import OrderError
from ledger.relay import RelayError, RelaySignerError

log = structlog.get_logger("api")


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    """What every 4xx/5xx response carries."""

    code: str
    detail: str
    errors: list[FieldError] | None = None
    error_args: dict[str, Any] | None = None


class ApiError(Exception):
    """Raised by routes: becomes ``status`` with an :class:`ErrorBody`."""

    def __init__(
        self, status: int, code: str, detail: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def forbidden(detail: str) -> ApiError:
    return ApiError(403, "forbidden", detail)


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    429: "rate_limited",
}


LEDGER_ERRORS: dict[type[LedgerError], tuple[int, str]] = {
    AccessDeniedError: (403, ""),
    ContractRevertError: (422, ""),  # "": the contract's own error name is the code
    TransactionRefusedError: (422, "transaction_refused"),
    TransactionFailedError: (422, "transaction_refused"),
    ChainUnavailableError: (502, "chain_unavailable"),
    WrongChainError: (502, "chain_unavailable"),
    ChainError: (502, "chain_error"),
    DeploymentError: (503, "service_unavailable"),
    ConfigError: (503, "service_unavailable"),
    KeystoreError: (503, "service_unavailable"),
    RelaySignerError: (403, "relay_refused"),
    RelayError: (422, "relay_refused"),
    OrderError: (422, "invalid_order"),
    FeeError: (422, "invalid_order"),
    InputError: (422, "invalid_input"),
    LedgerError: (400, "ledger_error"),
}
"""How each kind of library error answers: the first class of an exception's MRO found here
decides, so a subclass is mapped by its own entry or else by its nearest mapped ancestor (no
ordering to get wrong)."""


def error_of(exc: BaseException) -> tuple[int, ErrorBody, Mapping[str, str] | None]:
    """The status, body and headers an exception answers with."""
    if isinstance(exc, ApiError):
        return exc.status, ErrorBody(code=exc.code, detail=exc.detail), exc.headers
    if isinstance(exc, StarletteHTTPException):
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        return exc.status_code, ErrorBody(code=code, detail=str(exc.detail)), exc.headers
    if isinstance(exc, RequestValidationError):
        errors = [
            FieldError(
                loc=[p if isinstance(p, int) else str(p) for p in e.get("loc", ())],
                msg=str(e.get("msg", "")),
                type=str(e.get("type", "")),
            )
            for e in exc.errors()
        ]
        first = errors[0] if errors else None
        where = ".".join(str(p) for p in first.loc) if first else "request"
        detail = f"{where}: {first.msg}" if first else "invalid request"
        return 422, ErrorBody(code="validation_error", detail=detail, errors=errors), None
    mapped = next((LEDGER_ERRORS[k] for k in type(exc).__mro__ if k in LEDGER_ERRORS), None)
    if mapped is None:
        return 500, ErrorBody(code="internal_error", detail="internal error"), None
    status, code = mapped
    if isinstance(exc, ContractRevertError):
        body = ErrorBody(
            code=exc.error,
            detail=exc.message,
            error_args={k: _plain(v) for k, v in exc.error_args.items()},
        )
        return status, body, None
    return status, ErrorBody(code=code, detail=str(exc)), None


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, int | str | bool) or value is None:
        return value
    return str(value)


def error_response(exc: BaseException) -> JSONResponse:
    status, body, headers = error_of(exc)
    if status >= 500:
        log.error("request_failed", error=type(exc).__name__, detail=body.detail)
    return JSONResponse(body.model_dump(exclude_none=True), status_code=status, headers=headers)


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method the API serves at ``path``, from its OpenAPI document. Starlette's own
    Allow header named only the methods of the first route that matched the path (GET
    /invoices and POST /invoices are two routes), so a 405 misled clients."""
    methods: set[str] = set()
    for template, operations in app.openapi()["paths"].items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path):
            methods.update(method.upper() for method in operations)
    if "GET" in methods:
        methods.add("HEAD")  # Starlette answers HEAD wherever it answers GET
    return sorted(methods)


def install_handlers(app: FastAPI) -> None:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, ApiError | StarletteHTTPException | RequestValidationError):
            log.warning("ledger_error", path=request.url.path, error=type(exc).__name__)
        return error_response(exc)

    async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error", path=request.url.path)
        return error_response(exc)

    async def handle_http(request: Request, exc: Exception) -> JSONResponse:
        response = error_response(exc)
        if isinstance(exc, StarletteHTTPException) and exc.status_code == 405:
            response.headers["Allow"] = ", ".join(allowed_methods(request.app, request.url.path))
        return response

    for kind in (ApiError, RequestValidationError, LedgerError):
        app.add_exception_handler(kind, handle)
    app.add_exception_handler(StarletteHTTPException, handle_http)
    app.add_exception_handler(Exception, handle_unexpected)


COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in {
        400: "Bad request",
        401: "Not authenticated",
        403: "Not allowed",
        404: "Not found",
        409: "Conflict",
        413: "Body too large",
        422: "Invalid request",
        429: "Rate limited",
        502: "Chain unavailable",
        503: "Service misconfigured",
    }.items()
}
