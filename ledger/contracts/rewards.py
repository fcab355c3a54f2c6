"""RewardsPool: the city's reward programmes, funded by the treasury, granted by distributors.

Grants are idempotent by ``(programme, resident, evidence id)``: repeating one pays nothing, so a
payout can be re-run after any interruption. ``fund`` approves the pool for exactly the amount
first when the treasury's allowance falls short, so one method call is one complete operation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3.logs import DISCARD
from web3.types import EventData, TxReceipt

from ledger.contracts.base import ContractWrapper
from ledger.contracts.token import CityToken
from ledger.exceptions import ChainError, LedgerError
from ledger.types import KRW, reference, reference_text

GRANT_GAS = 100_000
"""Gas budget per grant of a batch on a free-gas chain (a grant to a new holder takes about
83,000), where a call's gas is not estimated; 200 grants then fit a 30M-gas block."""
BATCH_BASE_GAS = 150_000


class ProgrammeNotFoundError(LedgerError, LookupError):
    """No rewards programme has that id or name."""


class Grant(NamedTuple):
    """One grant to make (an item of :meth:`RewardsPool.grant_batch`)."""

    resident: str
    amount: int
    evidence_id: bytes
    """What is rewarded (for a vote: ``elections.vote_evidence_id``)."""


@dataclass(frozen=True, slots=True)
class Programme:
    """``IRewardsPool.Programme``: ``funded == budget + granted + defunded`` always."""

    id: int
    name: str
    budget: KRW
    """Funded tokens not yet granted or defunded."""
    granted: KRW
    funded: KRW
    defunded: KRW
    cap_per_period: KRW
    """The most one resident may be granted per period."""
    period_length: int
    """Seconds; a grant at time ``t`` is in period ``t // period_length``."""
    active: bool


@dataclass(frozen=True, slots=True)
class RewardGranted:
    """A ``RewardGranted`` event: a grant that was paid."""

    programme_id: int
    resident: str
    amount: KRW
    evidence_id: bytes
    period: int
    block_number: int
    tx_hash: str
    log_index: int


class RewardsPool(ContractWrapper):
    ARTIFACT = "RewardsPool"

    @cached_property
    def token(self) -> CityToken:
        """The token the pool pays in (read from the pool once)."""
        return CityToken(self.chain, str(self._read("token")))

    # -- programmes --------------------------------------------------------------------------
    def create_programme(
        self, admin: LocalAccount, name: str, cap_per_period: int, period_length: int
    ) -> int:
        """Create an active programme (REWARDS_ADMIN); returns its id. ``name`` is short text
        (at most 32 bytes), unique in the pool."""
        receipt = self._send(
            admin, "createProgramme", reference(name), cap_per_period, period_length
        )
        (event,) = self._decoded(receipt, "ProgrammeCreated")
        return int(event["args"]["programmeId"])

    def set_programme_active(
        self, admin: LocalAccount, programme_id: int, active: bool
    ) -> TxReceipt:
        return self._send(admin, "setProgrammeActive", programme_id, active)

    def set_programme_cap(
        self, admin: LocalAccount, programme_id: int, cap_per_period: int
    ) -> TxReceipt:
        return self._send(admin, "setProgrammeCap", programme_id, cap_per_period)

    def set_distributor(
        self, admin: LocalAccount, programme_id: int, account: str, allowed: bool = True
    ) -> TxReceipt:
        return self._send(
            admin, "setDistributor", programme_id, to_checksum_address(account), allowed
        )

    # -- money in and out --------------------------------------------------------------------
    def fund(self, treasury: LocalAccount, programme_id: int, amount: int) -> TxReceipt:
        """Move ``amount`` of the treasury's tokens into the programme's budget (TREASURY),
        approving the pool for exactly ``amount`` first if the allowance falls short."""
        if amount > 0 and self.token.allowance(treasury.address, self.address) < amount:
            self.token.approve(treasury, self.address, amount)
        return self._send(treasury, "fund", programme_id, amount)

    def defund(self, treasury: LocalAccount, programme_id: int, amount: int, to: str) -> TxReceipt:
        """Return ``amount`` of the programme's unspent budget to ``to`` (TREASURY)."""
        return self._send(treasury, "defund", programme_id, amount, to_checksum_address(to))

    def grant(
        self,
        distributor: LocalAccount,
        programme_id: int,
        resident: str,
        amount: int,
        evidence_id: bytes,
    ) -> bool:
        """Grant ``amount`` to ``resident`` for ``evidence_id``; False if exactly this grant was
        made before (nothing is paid then)."""
        receipt = self._send(
            distributor, "grant", programme_id, to_checksum_address(resident), amount, evidence_id
        )
        return bool(self._events_in(receipt, "RewardGranted"))

    def grant_batch(
        self,
        distributor: LocalAccount,
        programme_id: int,
        grants: Sequence[Grant | tuple[str, int, bytes]],
    ) -> int:
        """Make each grant (:class:`Grant`, or a ``(resident, amount, evidence_id)`` tuple),
        exact repeats skipped; any other refusal refuses the whole batch. Returns how many were
        paid. The transaction's gas grows with the batch: keep batches to a few hundred."""
        items = [Grant(*g) for g in grants]
        residents = [to_checksum_address(g.resident) for g in items]
        amounts = [g.amount for g in items]
        evidence = [g.evidence_id for g in items]
        receipt = self._send(
            distributor,
            "grantBatch",
            programme_id,
            residents,
            amounts,
            evidence,
            gas=BATCH_BASE_GAS + GRANT_GAS * len(items) if self.chain.free_gas else None,
        )
        return len(self._events_in(receipt, "RewardGranted"))

    # -- reads -------------------------------------------------------------------------------
    def programme(self, programme_id: int) -> Programme | None:
        """The programme ``programme_id``, or None if there is none."""
        name, budget, granted, funded, defunded, cap, period, active = self._read(
            "programmeOf", programme_id
        )
        if not period:
            return None
        return Programme(
            programme_id,
            reference_text(bytes(name)),
            KRW(budget),
            KRW(granted),
            KRW(funded),
            KRW(defunded),
            KRW(cap),
            int(period),
            bool(active),
        )

    def programme_count(self) -> int:
        return int(self._read("programmeCount"))

    def programme_id(self, name: str) -> int:
        """The id of the programme named ``name`` (ProgrammeNotFoundError if there is none)."""
        programme_id = int(self._read("programmeIdOf", reference(name)))
        if not programme_id:
            raise ProgrammeNotFoundError(f"the rewards pool has no programme named {name!r}")
        return programme_id

    def is_distributor(self, programme_id: int, account: str) -> bool:
        return bool(self._read("isDistributor", programme_id, to_checksum_address(account)))

    def granted_for(self, programme_id: int, resident: str, evidence_id: bytes) -> KRW:
        """What ``resident`` was granted for ``evidence_id`` (0: nothing)."""
        return KRW(self._read("grantOf", programme_id, to_checksum_address(resident), evidence_id))

    def is_granted(self, programme_id: int, resident: str, evidence_id: bytes) -> bool:
        return self.granted_for(programme_id, resident, evidence_id) > 0

    def granted_in_period(self, programme_id: int, resident: str, period: int | None = None) -> KRW:
        """What ``resident`` was granted in ``period`` (default: the current one)."""
        if period is None:
            period = self.current_period(programme_id)
        return KRW(
            self._read("grantedInPeriod", programme_id, to_checksum_address(resident), period)
        )

    def current_period(self, programme_id: int) -> int:
        return int(self._read("currentPeriod", programme_id))

    def total_budget(self) -> KRW:
        """The sum of all programmes' budgets: what the pool owes its programmes."""
        return KRW(self._read("totalBudget"))

    # -- history -----------------------------------------------------------------------------
    def grants(
        self,
        programme_id: int,
        *,
        resident: str | None = None,
        from_block: int = 0,
        to_block: int | None = None,
    ) -> list[RewardGranted]:
        """Every ``RewardGranted`` of the programme (to ``resident`` only, if given)."""
        topics: list[str | None] = [
            self.topic0("RewardGranted"),
            "0x" + programme_id.to_bytes(32, "big").hex(),
        ]
        if resident is not None:
            topics.append("0x" + bytes(12).hex() + to_checksum_address(resident)[2:].lower())
        found = []
        for log in self.raw_logs(topics, from_block=from_block, to_block=to_block):
            body = log["data"][2:]
            found.append(
                RewardGranted(
                    programme_id,
                    to_checksum_address("0x" + log["topics"][2][-40:]),
                    KRW(int(body[0:64], 16)),
                    bytes.fromhex(log["topics"][3][2:]),
                    int(body[64:128], 16),
                    int(log["blockNumber"], 16),
                    log["transactionHash"],
                    int(log["logIndex"], 16),
                )
            )
        return found

    def _events_in(self, receipt: TxReceipt, name: str) -> list[EventData]:
        events = getattr(self.contract.events, name)().process_receipt(receipt, errors=DISCARD)
        return [e for e in events if e["address"] == self.address]

    def _decoded(self, receipt: TxReceipt, name: str) -> list[EventData]:
        found = self._events_in(receipt, name)
        if not found:
            raise ChainError(
                f"no {name} event from the rewards pool in transaction "
                f"{receipt['transactionHash'].to_0x_hex()}"
            )
        return found
