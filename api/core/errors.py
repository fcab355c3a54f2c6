"""One JSON error body for every failure, and the mapping of ledger errors to HTTP statuses.

Every error response is ``{"code": "...", "detail": "a sentence", "errors": [...]?}``:
``code`` is stable for programs, ``detail`` is for people.
"""

from __future__ import annotations

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
    if isinstance(exc, ContractRevertError):
        status = 403 if isinstance(exc, AccessDeniedError) else 422
        body = ErrorBody(
            code=exc.error,
            detail=exc.message,
            error_args={k: _plain(v) for k, v in exc.error_args.items()},
        )
        return status, body, None
    if isinstance(exc, TransactionRefusedError | TransactionFailedError):
        return 422, ErrorBody(code="transaction_refused", detail=str(exc)), None
    if isinstance(exc, ChainUnavailableError | WrongChainError):
        return 502, ErrorBody(code="chain_unavailable", detail=str(exc)), None
    if isinstance(exc, ChainError):
        return 502, ErrorBody(code="chain_error", detail=str(exc)), None
    if isinstance(exc, DeploymentError | ConfigError | KeystoreError):
        return 503, ErrorBody(code="service_unavailable", detail=str(exc)), None
    if isinstance(exc, RelayError):
        status = 403 if isinstance(exc, RelaySignerError) else 422
        return status, ErrorBody(code="relay_refused", detail=str(exc)), None
    if isinstance(exc, OrderError | FeeError):
        return 422, ErrorBody(code="invalid_order", detail=str(exc)), None
    if isinstance(exc, LedgerError):
        return 400, ErrorBody(code="ledger_error", detail=str(exc)), None
    return 500, ErrorBody(code="internal_error", detail="internal error"), None


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


def install_handlers(app: FastAPI) -> None:
    async def handle(request: Request, exc: Exception) -> JSONResponse:
        if not isinstance(exc, ApiError | StarletteHTTPException | RequestValidationError):
            log.warning("ledger_error", path=request.url.path, error=type(exc).__name__)
        return error_response(exc)

    async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error", path=request.url.path)
        return error_response(exc)

    for kind in (
        ApiError,
        StarletteHTTPException,
        RequestValidationError,
        LedgerError,
        OrderError,
        FeeError,
    ):
        app.add_exception_handler(kind, handle)
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
