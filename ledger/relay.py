"""Relaying transactions that residents and merchants signed themselves (non-custodial).

A relayer never holds their keys: it decodes the signed bytes, checks them against a policy
(who signed, which contract, which function, which chain) and passes them on unchanged. For
the authorizations a contract checks itself (an EIP-712 Pay, Ballot or Vote), it checks the
signer first, so that a bad signature costs no transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import rlp
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from eth_utils import function_abi_to_4byte_selector, keccak, to_checksum_address
from hexbytes import HexBytes

from ledger.chain import Chain
from ledger.exceptions import LedgerError, TransactionRefusedError


class RelayError(LedgerError, ValueError):
    """A signed transaction the relayer will not pass on: unreadable, or against its policy."""


class RelaySignerError(RelayError, PermissionError):
    """The transaction is signed by someone other than the account it is relayed for."""


@dataclass(frozen=True, slots=True)
class SignedTransaction:
    """What a signed transaction says, read from its bytes (``sender`` is recovered)."""

    raw: bytes
    hash: bytes
    sender: str
    to: str | None
    nonce: int
    chain_id: int | None
    value: int
    data: bytes
    type: int

    @property
    def selector(self) -> bytes:
        return self.data[:4]


def decode_signed_transaction(raw: bytes) -> SignedTransaction:
    """Decode an EIP-155 legacy, EIP-2930 or EIP-1559 signed transaction."""
    if not raw:
        raise RelayError("empty transaction")
    try:
        if raw[0] >= 0xC0:
            fields = rlp.decode(raw)
            if not isinstance(fields, list) or len(fields) != 9:
                raise ValueError("a legacy transaction has 9 fields")
            nonce, _price, _gas, to, value, data, v, _r, _s = fields
            v_int = int.from_bytes(v, "big")
            chain_id: int | None = (v_int - 35) // 2 if v_int >= 35 else None
            tx_type, to_bytes = 0, bytes(to)
            nonce_int, value_int, data_bytes = (
                int.from_bytes(nonce, "big"),
                int.from_bytes(value, "big"),
                bytes(data),
            )
        elif raw[0] in (1, 2):
            decoded: dict[str, Any] = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
            tx_type = raw[0]
            to_bytes = bytes(decoded.get("to") or b"")
            chain_id = int(decoded["chainId"])
            nonce_int, value_int = int(decoded["nonce"]), int(decoded["value"])
            data_bytes = bytes(decoded.get("data") or b"")
        else:
            raise ValueError(f"transaction type {raw[0]} is not relayed")
        sender = Account.recover_transaction(raw)
    except RelayError:
        raise
    except Exception as exc:  # rlp, eth-account and eth-keys raise a variety of errors
        raise RelayError(f"not a valid signed transaction: {exc}") from None
    return SignedTransaction(
        raw=raw,
        hash=keccak(raw),
        sender=to_checksum_address(sender),
        to=to_checksum_address(to_bytes) if to_bytes else None,
        nonce=nonce_int,
        chain_id=chain_id,
        value=value_int,
        data=data_bytes,
        type=tx_type,
    )


def selectors(abi: Iterable[Mapping[str, Any]], names: Iterable[str]) -> dict[bytes, str]:
    """4-byte selector → function name, for the named functions of ``abi``."""
    wanted = set(names)
    found = {
        bytes(function_abi_to_4byte_selector(dict(entry))): str(entry["name"])  # type: ignore[arg-type]
        for entry in abi
        if entry.get("type") == "function" and entry.get("name") in wanted
    }
    missing = wanted - set(found.values())
    if missing:
        raise RelayError(f"the ABI has no function(s) {', '.join(sorted(missing))}")
    return found


def typed_data_signer(typed: Mapping[str, Any], signature: bytes) -> str | None:
    """Who signed the EIP-712 message ``typed`` (checksummed), or None for a signature that is
    not one (malformed ones raise from several layers of eth-keys)."""
    try:
        signer: str = Account.recover_message(
            encode_typed_data(full_message=dict(typed)), signature=signature
        )
    except Exception:
        return None
    return signer


@dataclass(frozen=True)
class RelayPolicy:
    """Which functions of which contracts may be relayed, on which chain."""

    chain_id: int
    allowed: Mapping[str, Mapping[bytes, str]]
    """Contract address → {selector: function name}."""

    def check(self, tx: SignedTransaction, sender: str) -> str:
        """The function ``tx`` calls, if ``sender`` signed it and the policy allows it."""
        if tx.sender != to_checksum_address(sender):
            raise RelaySignerError(f"the transaction is signed by {tx.sender}, not by {sender}")
        if tx.chain_id != self.chain_id:
            raise RelayError(
                f"the transaction is for chain {tx.chain_id}, this is chain {self.chain_id} "
                "(sign with EIP-155 replay protection)"
            )
        if tx.value:
            raise RelayError("relayed transactions carry no ether value")
        functions = self.allowed.get(tx.to or "")
        if functions is None:
            raise RelayError(f"transactions to {tx.to or 'a new contract'} are not relayed")
        name = functions.get(tx.selector)
        if name is None:
            raise RelayError(
                f"function 0x{tx.selector.hex()} is not relayed: allowed are "
                + ", ".join(sorted(functions.values()))
            )
        return name


@dataclass(frozen=True, slots=True)
class Relayed:
    """A relayed transaction: mined (with its block) or still pending after the wait."""

    tx_hash: bytes
    block_number: int | None

    @property
    def confirmed(self) -> bool:
        return self.block_number is not None


def relay(chain: Chain, tx: SignedTransaction, *, wait: float) -> Relayed:
    """Pass a signed transaction to the chain unchanged, the way a careful wallet sends.

    Sending the same bytes again is harmless: a transaction already mined is reported, not
    resent. Otherwise the call is dry-run as its signer first, so a transaction that would
    revert is refused with the contract's reason before it costs the signer a nonce.
    Waits up to ``wait`` seconds for the receipt; a mined failure raises its reason.
    """
    from web3.exceptions import TransactionNotFound

    tx_hash = HexBytes(tx.hash)
    with chain.rpc_errors():
        try:
            mined = chain.w3.eth.get_transaction_receipt(tx_hash)
        except TransactionNotFound:
            mined = None
    if mined is not None:
        return Relayed(bytes(tx_hash), int(chain.succeeded(mined)["blockNumber"]))
    chain.dry_run(
        {"from": tx.sender, "to": tx.to, "data": HexBytes(tx.data), "value": tx.value}  # type: ignore[typeddict-item]
    )
    try:
        chain.send_raw(tx.raw)
    except TransactionRefusedError:
        if not chain.knows(tx_hash):
            raise
    receipt = chain.settled(tx_hash, wait)
    return Relayed(bytes(tx_hash), None if receipt is None else int(receipt["blockNumber"]))
