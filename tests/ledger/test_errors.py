"""The revert-decoding table: every message names real error arguments, and decoding works."""

from __future__ import annotations

import string

import pytest
from eth_abi import encode
from eth_utils import keccak

from ledger.contracts.base import city_artifact
from ledger.contracts.errors import MESSAGES, default_table
from ledger.domains import contract_names
from ledger.exceptions import (
    AccessDeniedError,
    AccountNotActiveError,
    ElectionError,
    InvoiceClosedError,
    NotEligibleError,
    PaymentError,
    ReferenceUsedError,
    RewardsError,
    TokenPausedError,
    TransactionFailedError,
    VotingClosedError,
)
from ledger.types import reference


def _abi_errors() -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for name in contract_names():
        for entry in city_artifact(name).abi:
            if entry["type"] == "error":
                errors[entry["name"]] = [i["name"] for i in entry["inputs"]]
    return errors


@pytest.mark.parametrize("error", sorted(MESSAGES))
def test_every_message_uses_the_errors_own_arguments(error: str) -> None:
    errors = _abi_errors()
    assert error in errors, f"{error} is in MESSAGES but no city contract can raise it"
    _, template = MESSAGES[error]
    fields = {f.split(":")[0] for _, f, _, _ in string.Formatter().parse(template) if f}
    assert fields <= set(errors[error])


def test_every_city_specific_error_has_a_message() -> None:
    own = {
        e
        for e in _abi_errors()
        if e.startswith(
            (
                "CityToken",
                "ResidentRegistry",
                "PaymentRouter",
                "SafeERC20",
                "Elections",
                "RewardsPool",
            )
        )
    }
    assert own <= set(MESSAGES), sorted(own - set(MESSAGES))


@pytest.mark.parametrize(
    ("signature", "types", "values", "cls", "text"),
    [
        (
            "CityTokenAccountNotActive(address)",
            ["address"],
            ["0x" + "11" * 20],
            AccountNotActiveError,
            "is not active",
        ),
        (
            "CityTokenDepositRefUsed(bytes32)",
            ["bytes32"],
            [reference("DEP-7")],
            ReferenceUsedError,
            "deposit reference DEP-7 was already used",
        ),
        ("EnforcedPause()", [], [], TokenPausedError, "paused"),
        (
            "AccessManagedUnauthorized(address)",
            ["address"],
            ["0x" + "22" * 20],
            AccessDeniedError,
            "lacks the role",
        ),
        (
            "PaymentRouterInvoicePaid(bytes32)",
            ["bytes32"],
            [b"\xab" * 32],
            InvoiceClosedError,
            "invoice 0x" + "ab" * 32 + " is already paid",
        ),
        (
            "PaymentRouterRefundTooLarge(uint256,uint256)",
            ["uint256", "uint256"],
            [10_001, 9_900],
            PaymentError,
            "a refund of ₩10,001 exceeds the ₩9,900 still refundable",
        ),
        (
            "ElectionsWrongPhase(uint256,uint8,uint8)",
            ["uint256", "uint8", "uint8"],
            [3, 1, 2],
            ElectionError,
            "election 3 is in its setup phase; this needs it open",
        ),
        (
            "ElectionsWrongKind(uint256,uint8)",
            ["uint256", "uint8"],
            [4, 0],
            ElectionError,
            "election 4 is a public poll",
        ),
        (
            "ElectionsNotEligible(uint256,address)",
            ["uint256", "address"],
            [5, "0x" + "44" * 20],
            NotEligibleError,
            "is not eligible to vote in election 5",
        ),
        (
            "ElectionsVotingClosed(uint256,uint64)",
            ["uint256", "uint64"],
            [6, 1_800_000_000],
            VotingClosedError,
            "stopped accepting ballots at 1800000000",
        ),
        (
            "RewardsPoolCapExceeded(uint256,address,uint256,uint256)",
            ["uint256", "address", "uint256", "uint256"],
            [1, "0x" + "55" * 20, 12_000, 2_000],
            RewardsError,
            "₩12,000 would take 0x5555555555555555555555555555555555555555 over programme 1's "
            "cap: ₩2,000 is left this period",
        ),
        (
            "ERC20InsufficientBalance(address,uint256,uint256)",
            ["address", "uint256", "uint256"],
            ["0x" + "33" * 20, 5, 12000],
            Exception,
            "has ₩5, needs ₩12,000",
        ),
    ],
)
def test_decoding(
    signature: str, types: list[str], values: list[object], cls: type, text: str
) -> None:
    data = keccak(text=signature)[:4] + encode(types, values)
    error = default_table().exception(data)
    assert isinstance(error, cls)
    assert text in str(error)


def test_unknown_and_short_data_still_explain() -> None:
    table = default_table()
    assert isinstance(table.exception(b""), TransactionFailedError)
    assert "unknown error" in str(table.exception(b"\xde\xad\xbe\xef"))


def test_enum_arguments_decode_to_their_names() -> None:
    data = keccak(text="ElectionsWrongPhase(uint256,uint8,uint8)")[:4] + encode(
        ["uint256", "uint8", "uint8"], [9, 3, 4]
    )
    error = default_table().exception(data)
    assert isinstance(error, ElectionError)
    assert error.error_args == {"electionId": 9, "current": "closed", "required": "tallied"}
