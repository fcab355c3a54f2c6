"""CityToken: the local currency (ERC-20, 0 decimals, 1 token = 1 KRW)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3.types import TxReceipt

from ledger.contracts.base import ContractWrapper
from ledger.types import KRW, reference, reference_text


@dataclass(frozen=True, slots=True)
class SupplyRecord:
    """One supply change (mint against a deposit, or redemption against a settlement)."""

    kind: str
    account: str
    amount: KRW
    reference: str
    block: int
    tx_hash: str


@dataclass(frozen=True, slots=True)
class Permit:
    """An EIP-2612 permit signed by the owner; anyone may submit it."""

    owner: str
    spender: str
    value: int
    deadline: int
    v: int
    r: bytes
    s: bytes


class CityToken(ContractWrapper):
    ARTIFACT = "CityToken"

    # -- reads -------------------------------------------------------------------------------
    def balance_of(self, account: str) -> KRW:
        return KRW(self._read("balanceOf", account))

    def total_supply(self) -> KRW:
        return KRW(self._read("totalSupply"))

    def total_minted(self) -> KRW:
        return KRW(self._read("totalMinted"))

    def total_burned(self) -> KRW:
        return KRW(self._read("totalBurned"))

    def mint_limit(self) -> KRW:
        return KRW(self._read("mintLimit"))

    def allowance(self, owner: str, spender: str) -> KRW:
        return KRW(self._read("allowance", owner, spender))

    def paused(self) -> bool:
        return bool(self._read("paused"))

    def deposit_ref_used(self, ref: str) -> bool:
        return bool(self._read("isDepositRefUsed", reference(ref)))

    def settlement_ref_used(self, ref: str) -> bool:
        return bool(self._read("isSettlementRefUsed", reference(ref)))

    def symbol(self) -> str:
        return str(self._read("symbol"))

    # -- writes ------------------------------------------------------------------------------
    def transfer(self, signer: LocalAccount, to: str, amount: int) -> TxReceipt:
        return self._send(signer, "transfer", to, amount)

    def check_transfer(self, sender: str, to: str, amount: int) -> None:
        """Dry-run a transfer as ``sender`` (eth_call): raises the reason it would fail,
        before anyone is asked for a password or signs anything."""
        self.chain.call(self._fn("transfer", to, amount), sender=sender)

    def mint(self, signer: LocalAccount, to: str, amount: int, deposit_ref: str) -> TxReceipt:
        return self._send(signer, "mint", to, amount, reference(deposit_ref))

    def redeem(self, signer: LocalAccount, amount: int, settlement_ref: str) -> TxReceipt:
        return self._send(signer, "redeem", amount, reference(settlement_ref))

    def pause(self, signer: LocalAccount) -> TxReceipt:
        return self._send(signer, "pause")

    def unpause(self, signer: LocalAccount) -> TxReceipt:
        return self._send(signer, "unpause")

    def set_mint_limit(self, signer: LocalAccount, limit: int) -> TxReceipt:
        return self._send(signer, "setMintLimit", limit)

    def approve(self, signer: LocalAccount, spender: str, amount: int) -> TxReceipt:
        return self._send(signer, "approve", spender, amount)

    def sign_permit(
        self, owner: LocalAccount, spender: str, value: int, *, valid_for: int = 3600
    ) -> Permit:
        """The owner signs an allowance off chain; a relayer submits it with :meth:`permit`."""
        deadline = int(time.time()) + valid_for
        name, version, chain_id, contract = self._read("eip712Domain")[1:5]
        message = {
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"},
                    {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"},
                    {"name": "verifyingContract", "type": "address"},
                ],
                "Permit": [
                    {"name": "owner", "type": "address"},
                    {"name": "spender", "type": "address"},
                    {"name": "value", "type": "uint256"},
                    {"name": "nonce", "type": "uint256"},
                    {"name": "deadline", "type": "uint256"},
                ],
            },
            "primaryType": "Permit",
            "domain": {
                "name": name,
                "version": version,
                "chainId": chain_id,
                "verifyingContract": contract,
            },
            "message": {
                "owner": owner.address,
                "spender": spender,
                "value": value,
                "nonce": self._read("nonces", owner.address),
                "deadline": deadline,
            },
        }
        signed = Account.sign_typed_data(owner.key, full_message=message)
        return Permit(
            owner.address,
            spender,
            value,
            deadline,
            signed.v,
            signed.r.to_bytes(32, "big"),
            signed.s.to_bytes(32, "big"),
        )

    def permit(self, relayer: LocalAccount, permit: Permit) -> TxReceipt:
        return self._send(
            relayer,
            "permit",
            permit.owner,
            permit.spender,
            permit.value,
            permit.deadline,
            permit.v,
            permit.r,
            permit.s,
        )

    # -- history -----------------------------------------------------------------------------
    def supply_changes(self, *, from_block: int = 0) -> list[SupplyRecord]:
        """Every mint and redemption with its reference: the audit trail of the supply."""
        records = self._supply_records("mint", "Minted", "to", "depositRef", from_block)
        records += self._supply_records(
            "redeem", "Redeemed", "account", "settlementRef", from_block
        )
        return sorted(records, key=lambda r: (r.block, r.tx_hash))

    def _supply_records(
        self, kind: str, event: str, account: str, ref: str, from_block: int
    ) -> list[SupplyRecord]:
        return [
            SupplyRecord(
                kind,
                e["args"][account],
                KRW(e["args"]["amount"]),
                reference_text(e["args"][ref]),
                e["blockNumber"],
                e["transactionHash"].to_0x_hex(),
            )
            for e in self.events(event, from_block=from_block)
        ]
