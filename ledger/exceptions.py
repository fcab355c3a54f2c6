"""Exception hierarchy: one root for everything CityLedger raises, one branch per domain.

Leaves also subclass the stdlib type they refine (as web3.py does), so callers that only know
``ValueError`` or ``LookupError`` still catch them. The embedded node's own errors live with
the node (``ledger.node.errors``), under the same root.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Root of every error raised by CityLedger code."""


class ConfigError(LedgerError, ValueError):
    """A configuration file or option is missing, malformed or inconsistent."""


class ChainError(LedgerError):
    """Talking to the chain failed: unreachable, wrong network, or a transaction failed."""


class ChainUnavailableError(ChainError, ConnectionError):
    """The JSON-RPC endpoint cannot be reached."""


class WrongChainError(ChainError):
    """The endpoint serves a different chain id than the one configured."""


class TransactionRefusedError(ChainError):
    """The node refused a signed transaction (not allowlisted, nonce, funds...)."""


class TransactionFailedError(ChainError):
    """A transaction was mined but failed, or a call reverted without a known reason."""


class ReceiptTimeoutError(TransactionFailedError):
    """A sent transaction was not mined in time (it may still be, or may have been dropped)."""


class ContractRevertError(ChainError):
    """A contract reverted with a custom error; ``error`` and ``args`` name it exactly.

    Domain subclasses below let callers catch what they can act on; every instance also
    carries a sentence a person can read.
    """

    def __init__(self, message: str, error: str, args: dict[str, object]) -> None:
        super().__init__(message)
        self.message = message
        self.error = error
        self.error_args = args


class AccessDeniedError(ContractRevertError, PermissionError):
    """The caller lacks the role the city's AccessManager requires for this call."""


class TokenError(ContractRevertError):
    """The city token refused an operation."""


class InsufficientBalanceError(TokenError):
    """The sender's balance (or allowance) does not cover the amount."""


class AccountNotActiveError(TokenError):
    """A party to a token movement is not an active registered account."""


class TokenPausedError(TokenError):
    """The token is paused: nothing moves until the city unpauses it."""


class ReferenceUsedError(TokenError):
    """A deposit or settlement reference was already used (each is single-use)."""


class RegistryError(ContractRevertError):
    """The resident registry refused an operation."""


class PaymentError(ContractRevertError):
    """The payment router refused an operation (payment, refund, redemption or fee change)."""


class InvoiceClosedError(PaymentError):
    """The invoice can no longer be paid or cancelled: it was paid, cancelled or has expired."""


class ElectionError(ContractRevertError):
    """The Elections contract refused an operation (setup, casting, closing or the result)."""


class NotEligibleError(ElectionError, PermissionError):
    """The voter is not in the election's eligibility list (or the proof given is wrong)."""


class VotingClosedError(ElectionError):
    """The election does not accept ballots now: not open yet, or its window has ended."""


class RewardsError(ContractRevertError):
    """The rewards pool refused an operation (programme change, funding or a grant)."""


class KeystoreError(LedgerError):
    """A keystore operation failed."""


class UnknownAliasError(KeystoreError, LookupError):
    """No keystore file has that alias."""


class AliasExistsError(KeystoreError, FileExistsError):
    """A keystore with that alias exists already (never overwritten)."""


class WrongPasswordError(KeystoreError, ValueError):
    """The password does not decrypt the keystore."""


class InvalidKeyError(KeystoreError, ValueError):
    """Not a private key, not a keystore file, or not a valid alias."""


class PermissioningError(ChainError):
    """A node refused or failed an accounts-allowlist change."""


class InputError(LedgerError, ValueError):
    """A value given by a person or a program is malformed (an amount, a reference, a role,
    an option that needs another); the message says what was expected."""


class AddressError(InputError):
    """Not an account address, or a mixed-case address whose EIP-55 checksum fails."""
