"""Every branch of the ledger's exception tree answers a 4xx/5xx with the one error body."""

from __future__ import annotations

import pytest

from api.core.errors import ApiError, error_of
from ledger.deploy import DeploymentError
from ledger.exceptions import (
    AccessDeniedError,
    AddressError,
    ChainError,
    ChainUnavailableError,
    ConfigError,
    InsufficientBalanceError,
    InvalidKeyError,
    LedgerError,
    TransactionFailedError,
    TransactionRefusedError,
    WrongChainError,
)
from ledger.payments.fees import FeeError
from ledger.payments.orders import OrderError
from ledger.relay import RelayError, RelaySignerError
from ledger.secrets import SecretError


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (ApiError(409, "invoice_paid", "paid"), 409, "invoice_paid"),
        (AccessDeniedError("no role", "AccessManagedUnauthorized", {"caller": "0x1"}), 403, None),
        (
            InsufficientBalanceError("short", "ERC20InsufficientBalance", {"needed": 5}),
            422,
            "ERC20InsufficientBalance",
        ),
        (TransactionRefusedError("nonce too low"), 422, "transaction_refused"),
        (TransactionFailedError("reverted"), 422, "transaction_refused"),
        (ChainUnavailableError("down"), 502, "chain_unavailable"),
        (WrongChainError("chain 1"), 502, "chain_unavailable"),
        (ChainError("odd"), 502, "chain_error"),
        (DeploymentError("no manifest"), 503, "service_unavailable"),
        (ConfigError("no signer"), 503, "service_unavailable"),
        (InvalidKeyError("bad key"), 503, "service_unavailable"),
        (RelaySignerError("not yours"), 403, "relay_refused"),
        (RelayError("garbage"), 422, "relay_refused"),
        (OrderError("0 tokens"), 422, "invalid_order"),
        (FeeError("bps"), 422, "invalid_order"),
        (AddressError("0x12 is not an address"), 422, "invalid_input"),
        (SecretError("cannot read secret file"), 503, "service_unavailable"),
        (LedgerError("other"), 400, "ledger_error"),
        (RuntimeError("bug"), 500, "internal_error"),
    ],
)
def test_error_mapping(exc: Exception, status: int, code: str | None) -> None:
    got_status, body, _ = error_of(exc)
    assert got_status == status
    assert body.code == (code or exc.error)  # type: ignore[attr-defined]
    assert body.detail
    if status == 500:
        assert body.detail == "internal error"  # nothing internal leaks


def test_contract_errors_carry_their_arguments() -> None:
    exc = InsufficientBalanceError(
        "insufficient", "ERC20InsufficientBalance", {"sender": "0xA", "needed": 5, "raw": b"\x01"}
    )
    _, body, _ = error_of(exc)
    assert body.error_args == {"sender": "0xA", "needed": 5, "raw": "0x01"}
