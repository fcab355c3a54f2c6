"""Decode revert data into the Python exception a caller can act on, with a readable message.

Every custom error of every committed artifact is known by its 4-byte selector; one table says
which exception class each becomes and how to say it in words. An error missing from the table
still decodes (name and arguments), as a plain ContractRevertError.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from eth_abi import decode
from eth_abi.exceptions import DecodingError
from eth_utils import keccak, to_checksum_address

from ledger.contracts.artifacts import ARTIFACTS_DIR, load_artifact
from ledger.exceptions import (
    AccessDeniedError,
    AccountNotActiveError,
    ContractRevertError,
    ElectionError,
    InsufficientBalanceError,
    InvoiceClosedError,
    NotEligibleError,
    PaymentError,
    ReferenceUsedError,
    RegistryError,
    RewardsError,
    TokenError,
    TokenPausedError,
    TransactionFailedError,
    VotingClosedError,
)
from ledger.types import reference_text

_PANICS = {
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division by zero",
    0x21: "invalid enum value",
    0x32: "array index out of bounds",
    0x41: "out of memory",
}

MESSAGES: dict[str, tuple[type[ContractRevertError], str]] = {
    # OpenZeppelin AccessManager / AccessManaged
    "AccessManagedUnauthorized": (AccessDeniedError, "{caller} lacks the role for this call"),
    "AccessManagedRequiredDelay": (
        AccessDeniedError,
        "{caller}'s role needs this call scheduled {delay} s ahead: schedule it first",
    ),
    "AccessManagerUnauthorizedAccount": (
        AccessDeniedError,
        "{msgsender} lacks role {roleId} for this call",
    ),
    "AccessManagerUnauthorizedCall": (AccessDeniedError, "{caller} may not call this function"),
    "AccessManagerUnauthorizedCancel": (
        AccessDeniedError,
        "{msgsender} may not cancel {caller}'s scheduled call",
    ),
    "AccessManagerNotScheduled": (AccessDeniedError, "operation {operationId} is not scheduled"),
    "AccessManagerNotReady": (AccessDeniedError, "operation {operationId} is not due yet"),
    "AccessManagerExpired": (AccessDeniedError, "operation {operationId} expired"),
    "AccessManagerAlreadyScheduled": (
        AccessDeniedError,
        "operation {operationId} is already scheduled",
    ),
    "AccessManagerLockedRole": (AccessDeniedError, "role {roleId} cannot be granted or revoked"),
    # ERC-20 / EIP-2612 / Pausable
    "ERC20InsufficientBalance": (
        InsufficientBalanceError,
        "insufficient balance: {sender} has ₩{balance:,}, needs ₩{needed:,}",
    ),
    "ERC20InsufficientAllowance": (
        InsufficientBalanceError,
        "insufficient allowance: {spender} may spend ₩{allowance:,}, needs ₩{needed:,}",
    ),
    "ERC20InvalidReceiver": (TokenError, "{receiver} cannot receive tokens"),
    "ERC2612ExpiredSignature": (TokenError, "the permit expired at {deadline}"),
    "ERC2612InvalidSigner": (TokenError, "the permit is signed by {signer}, not by {owner}"),
    "EnforcedPause": (TokenPausedError, "the city token is paused: nothing moves until unpaused"),
    "ExpectedPause": (TokenError, "the city token is not paused"),
    # CityToken
    "CityTokenAccountNotActive": (
        AccountNotActiveError,
        "account {account} is not active (not registered, frozen or retired)",
    ),
    "CityTokenSpenderNotActive": (
        AccountNotActiveError,
        "spender {spender} is {status}: only an active account may spend an allowance",
    ),
    "CityTokenAccountNotRetired": (TokenError, "account {account} is not retired"),
    "CityTokenDepositRefUsed": (
        ReferenceUsedError,
        "deposit reference {depositRef} was already used",
    ),
    "CityTokenSettlementRefUsed": (
        ReferenceUsedError,
        "settlement reference {settlementRef} was already used",
    ),
    "CityTokenEmptyReference": (TokenError, "a non-empty reference is required"),
    "CityTokenZeroAmount": (TokenError, "the amount must be at least ₩1"),
    "CityTokenZeroAddress": (TokenError, "the zero address is not an account"),
    "CityTokenMintAboveLimit": (
        TokenError,
        "a mint of ₩{amount:,} is above the limit of ₩{limit:,}: schedule it as a large mint",
    ),
    # ResidentRegistry
    "ResidentRegistryAlreadyRegistered": (RegistryError, "{account} is already registered"),
    "ResidentRegistryNotRegistered": (RegistryError, "{account} is not registered"),
    "ResidentRegistryNotActive": (RegistryError, "{account} is not active"),
    "ResidentRegistryNotFrozen": (RegistryError, "{account} is not frozen"),
    "ResidentRegistryRetired": (RegistryError, "{account} was retired by a key recovery"),
    "ResidentRegistryInvalidKind": (RegistryError, "choose an account kind"),
    "ResidentRegistryEmptyCredential": (RegistryError, "a credential hash is required"),
    "ResidentRegistryZeroAddress": (RegistryError, "the zero address is not an account"),
    "ResidentRegistryTokenAlreadySet": (RegistryError, "the registry's token is already set"),
    "ResidentRegistryTokenMismatch": (
        RegistryError,
        "token {token} does not use this registry",
    ),
    # SafeERC20 (the PaymentRouter's token calls)
    "SafeERC20FailedOperation": (TokenError, "the token {token} refused the transfer"),
    # PaymentRouter
    "PaymentRouterNotMerchant": (PaymentError, "{merchant} is not an active merchant account"),
    "PaymentRouterZeroAmount": (PaymentError, "the amount must be at least ₩1"),
    "PaymentRouterInvoicePaid": (InvoiceClosedError, "invoice {invoiceRef} is already paid"),
    "PaymentRouterInvoiceCancelled": (InvoiceClosedError, "invoice {invoiceRef} was cancelled"),
    "PaymentRouterInvoiceExpired": (
        InvoiceClosedError,
        "invoice {invoiceRef} could be paid until {validUntil} (unix time) and has expired",
    ),
    "PaymentRouterUnknownPayment": (
        PaymentError,
        "no payment was made with the reference {invoiceRef}",
    ),
    "PaymentRouterNotInvoiceMerchant": (
        PaymentError,
        "{caller} may not act for the invoice's merchant {merchant}",
    ),
    "PaymentRouterRefundTooLarge": (
        PaymentError,
        "a refund of ₩{amount:,} exceeds the ₩{refundable:,} still refundable",
    ),
    "PaymentRouterInvalidSignature": (
        PaymentError,
        "the payment authorization is not signed by the payer {payer}",
    ),
    "PaymentRouterAuthorizationExpired": (
        PaymentError,
        "the payment authorization expired at {deadline} (unix time)",
    ),
    "PaymentRouterInvalidBps": (
        PaymentError,
        "a fee or share is 0 to 10,000 basis points, not {bps:,}",
    ),
    "PaymentRouterUnknownRedemption": (
        PaymentError,
        "no redemption request {redemptionId} is waiting for a decision",
    ),
    "PaymentRouterInsufficientCityFees": (
        PaymentError,
        "₩{amount:,} is more than the ₩{available:,} of city fees the router holds",
    ),
    "PaymentRouterZeroAddress": (PaymentError, "the zero address is not an account"),
    "PaymentRouterInvalidCategory": (
        PaymentError,
        "category {category} is the default category: its fee is the default fee",
    ),
    "PaymentRouterRegistryMismatch": (
        PaymentError,
        "token {token} does not use the registry {registry}",
    ),
    # Elections
    "ElectionsUnknownElection": (ElectionError, "there is no election {electionId}"),
    "ElectionsWrongPhase": (
        ElectionError,
        "election {electionId} is in its {current} phase; this needs it {required}",
    ),
    "ElectionsWrongKind": (
        ElectionError,
        "election {electionId} is a {kind}, which this call does not apply to",
    ),
    "ElectionsInvalidOptionCount": (
        ElectionError,
        "an election has 2 to 32 options, not {optionCount}",
    ),
    "ElectionsInvalidSelectionBounds": (
        ElectionError,
        "selecting {minSelections} to {maxSelections} of {optionCount} options is not valid: "
        "it needs min <= max <= options and max >= 1",
    ),
    "ElectionsInvalidThreshold": (
        ElectionError,
        "a threshold of {threshold} with {trusteeCount} trustees is not valid: a secret ballot "
        "needs 1 <= threshold <= trustees <= 255, a public poll no trustees and threshold 0",
    ),
    "ElectionsZeroTrustee": (ElectionError, "the zero address cannot be a trustee"),
    "ElectionsDuplicateTrustee": (ElectionError, "trustee {trustee} is named twice"),
    "ElectionsInvalidWindow": (
        ElectionError,
        "voting from {opensAt} to {closesAt} (unix time) is not a window: it must open before "
        "it closes, and close in the future",
    ),
    "ElectionsInvalidEligibility": (
        ElectionError,
        "the eligibility list is empty (root {eligibilityRoot}, {eligibleCount} accounts)",
    ),
    "ElectionsInvalidQuorum": (
        ElectionError,
        "a quorum of {quorum:,} could never be met by {eligibleCount:,} eligible voters",
    ),
    "ElectionsNotTrustee": (
        ElectionError,
        "{account} is not a trustee of election {electionId}",
    ),
    "ElectionsAlreadyPosted": (
        ElectionError,
        "trustee {trustee} already posted this for election {electionId}",
    ),
    "ElectionsEmptyData": (ElectionError, "a trustee's post cannot be empty"),
    "ElectionsCommitmentsIncomplete": (
        ElectionError,
        "only {posted} of the {required} trustees of election {electionId} posted commitments: "
        "shares come after all of them",
    ),
    "ElectionsSharesIncomplete": (
        ElectionError,
        "only {posted} of the {required} trustees of election {electionId} posted their shares: "
        "the key comes after all of them",
    ),
    "ElectionsInvalidElectionKey": (
        ElectionError,
        "{publicKey} is not a 33-byte compressed public key",
    ),
    "ElectionsKeyAlreadySet": (ElectionError, "the key of election {electionId} is already set"),
    "ElectionsNoElectionKey": (
        ElectionError,
        "election {electionId} has no key yet: set it before opening",
    ),
    "ElectionsNotYetOpen": (
        VotingClosedError,
        "election {electionId} accepts ballots from {opensAt} (unix time)",
    ),
    "ElectionsVotingClosed": (
        VotingClosedError,
        "election {electionId} stopped accepting ballots at {closesAt} (unix time)",
    ),
    "ElectionsNotYetClosable": (
        ElectionError,
        "election {electionId} runs until {closesAt} (unix time): it cannot close before",
    ),
    "ElectionsNotEligible": (
        NotEligibleError,
        "{voter} is not eligible to vote in election {electionId} (or the proof is wrong)",
    ),
    "ElectionsInvalidBallotLength": (
        ElectionError,
        "a ballot of {length:,} bytes: this election's ballots are exactly {expected:,} bytes",
    ),
    "ElectionsInvalidBallotHeader": (
        ElectionError,
        "a ballot of version {version} for {optionCount} options does not fit this election",
    ),
    "ElectionsInvalidChoices": (
        ElectionError,
        "the choices {choices:#x} name an option this poll does not have",
    ),
    "ElectionsInvalidSelectionCount": (
        ElectionError,
        "{count} options selected; this vote takes {minSelections} to {maxSelections}",
    ),
    "ElectionsInvalidSignature": (
        ElectionError,
        "the ballot is not signed by the voter {voter} for its next sequence number",
    ),
    "ElectionsAuthorizationExpired": (
        ElectionError,
        "the signed ballot expired at {deadline} (unix time)",
    ),
    "ElectionsDecryptionsIncomplete": (
        ElectionError,
        "only {posted} decryptions of election {electionId} are posted; the result needs "
        "{required}",
    ),
    "ElectionsInvalidCountsLength": (
        ElectionError,
        "{length} counts for an election of {optionCount} options",
    ),
    "ElectionsTurnoutAboveVoters": (
        ElectionError,
        "a turnout of {turnout:,} is more than the {voterCount:,} voters who cast a ballot",
    ),
    "ElectionsCountAboveTurnout": (
        ElectionError,
        "option {option} counted {count:,} times, more than the turnout of {turnout:,}",
    ),
    "ElectionsCountMismatch": (
        ElectionError,
        "option {option}: the posted count {posted:,} differs from the live count {live:,}",
    ),
    "ElectionsTurnoutMismatch": (
        ElectionError,
        "the posted turnout {turnout:,} differs from the poll's {voterCount:,} voters",
    ),
    # RewardsPool
    "RewardsPoolUnknownProgramme": (RewardsError, "there is no rewards programme {programmeId}"),
    "RewardsPoolEmptyName": (RewardsError, "a programme needs a name"),
    "RewardsPoolNameTaken": (
        RewardsError,
        "programme {programmeId} is already named {name}",
    ),
    "RewardsPoolZeroCap": (RewardsError, "the cap per period must be at least ₩1"),
    "RewardsPoolZeroPeriod": (RewardsError, "a period must be at least one second"),
    "RewardsPoolZeroAmount": (RewardsError, "the amount must be at least ₩1"),
    "RewardsPoolZeroAddress": (RewardsError, "the zero address is not an account"),
    "RewardsPoolEmptyEvidence": (RewardsError, "a grant must name the evidence it rewards"),
    "RewardsPoolNotDistributor": (
        RewardsError,
        "{account} is not a distributor of rewards programme {programmeId}",
    ),
    "RewardsPoolProgrammeInactive": (
        RewardsError,
        "rewards programme {programmeId} is switched off",
    ),
    "RewardsPoolResidentNotActive": (
        RewardsError,
        "{resident} is not an active account (not registered, frozen or retired)",
    ),
    "RewardsPoolCapExceeded": (
        RewardsError,
        "₩{amount:,} would take {resident} over programme {programmeId}'s cap: "
        "₩{available:,} is left this period",
    ),
    "RewardsPoolInsufficientBudget": (
        RewardsError,
        "₩{amount:,} is more than the ₩{budget:,} budget of programme {programmeId}",
    ),
    "RewardsPoolGrantConflict": (
        RewardsError,
        "{resident} was already granted ₩{granted:,} for {evidenceId}: a repeat must be the same",
    ),
    "RewardsPoolLengthMismatch": (
        RewardsError,
        "a batch of {residents} residents, {amounts} amounts and {evidenceIds} evidence ids",
    ),
    "RewardsPoolRegistryMismatch": (
        RewardsError,
        "token {token} does not use the registry {registry}",
    ),
}

ENUMS: dict[str, tuple[str, ...]] = {
    "enum IElections.ElectionPhase": ("none", "setup", "open", "closed", "tallied"),
    "enum IElections.ElectionKind": ("public poll", "secret ballot"),
    "enum IResidentRegistry.AccountStatus": ("not registered", "active", "frozen", "retired"),
}
"""Names of the enum values errors carry (by the ABI's ``internalType``): arguments of these
types decode to the name rather than the number."""


class ErrorTable:
    """Selector → (name, argument names, argument types) for every known custom error."""

    def __init__(self, abis: Iterable[list[dict[str, Any]]]) -> None:
        self._errors: dict[bytes, tuple[str, list[str], list[str], list[str]]] = {}
        for abi in abis:
            for entry in abi:
                if entry.get("type") != "error":
                    continue
                types = [_canonical_type(i) for i in entry["inputs"]]
                selector = keccak(text=f"{entry['name']}({','.join(types)})")[:4]
                names = [i["name"] or f"arg{n}" for n, i in enumerate(entry["inputs"])]
                internal = [str(i.get("internalType", "")) for i in entry["inputs"]]
                self._errors[selector] = (entry["name"], names, types, internal)

    def exception(self, data: bytes) -> Exception:
        """The exception that ``data`` (revert data from a call or receipt) stands for."""
        if len(data) < 4:
            return TransactionFailedError("execution reverted without a reason")
        selector, payload = data[:4], data[4:]
        if selector == keccak(text="Error(string)")[:4]:
            return TransactionFailedError(f"execution reverted: {_decode_one('string', payload)}")
        if selector == keccak(text="Panic(uint256)")[:4]:
            code = _decode_one("uint256", payload)
            what = _PANICS.get(code, "panic") if isinstance(code, int) else "panic"
            return TransactionFailedError(f"execution failed: {what} (panic {code})")
        known = self._errors.get(selector)
        if known is None:
            return TransactionFailedError(f"execution reverted with unknown error 0x{data.hex()}")
        name, names, types, internal = known
        try:
            values = decode(types, payload)
        except DecodingError:
            return TransactionFailedError(f"execution reverted with malformed {name} data")
        args = {
            n: _readable(t, v, i) for n, t, v, i in zip(names, types, values, internal, strict=True)
        }
        cls, template = MESSAGES.get(name, (ContractRevertError, ""))
        try:
            message = template.format(**args) if template else _default_message(name, args)
        except (KeyError, ValueError):
            message = _default_message(name, args)
        return cls(message, name, args)


@cache
def default_table(extra_dirs: tuple[Path, ...] = ()) -> ErrorTable:
    """The table over every committed artifact (and any extra artifact folders)."""
    abis: list[list[dict[str, Any]]] = []
    for directory in (ARTIFACTS_DIR, *extra_dirs):
        if directory.is_dir():
            abis.extend(
                load_artifact(p.stem, directory).abi for p in sorted(directory.glob("*.json"))
            )
    return ErrorTable(abis)


def _canonical_type(entry: dict[str, Any]) -> str:
    kind = str(entry["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_canonical_type(c) for c in entry["components"])
        return f"({inner}){kind[5:]}"
    return kind


def _decode_one(kind: str, payload: bytes) -> Any:
    try:
        return decode([kind], payload)[0]
    except DecodingError:
        return "?"


def _readable(kind: str, value: Any, internal: str = "") -> Any:
    labels = ENUMS.get(internal)
    if labels is not None and isinstance(value, int) and value < len(labels):
        return labels[value]
    if kind == "address":
        return to_checksum_address(value)
    if kind == "bytes32" and isinstance(value, bytes):
        return reference_text(value)  # references are short text; other words stay hex
    if kind.startswith("bytes") and isinstance(value, bytes):
        return "0x" + value.hex()
    return value


def _default_message(name: str, args: dict[str, Any]) -> str:
    rendered = ", ".join(f"{k}={v}" for k, v in args.items())
    return f"{name}({rendered})"
