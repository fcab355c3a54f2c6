"""Stateful property test: random sequences of valid and invalid raw transactions, seals and
restarts leave every balance and nonce equal to a simple reference model.

The model is a dict of balances and nonces plus the list of accepted-but-unsealed transfers;
the node must accept exactly the transfers the model calls valid, refuse the rest with a
TransactionRejected, and after every step agree with the model at its head.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import rlp
from eth_account.signers.local import LocalAccount
from eth_utils import to_canonical_address
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from cityledger.testing.accounts import make_accounts
from cityledger.testing.inprocess import open_node, transfer
from ledger.node.config import GenesisConfig
from ledger.node.errors import TransactionRejected
from ledger.node.node import Node

SENDERS = make_accounts(3, "model-sender")
OUTSIDER = make_accounts(1, "model-outsider")[0]
EVERYONE = [*SENDERS, OUTSIDER]
START = [5_000, 2_000, 0]
NONCE_GAP = 3

who = st.integers(0, len(SENDERS) - 1)
anyone = st.integers(0, len(EVERYONE) - 1)


class ChainModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="chain-model-"))
        self.genesis = GenesisConfig(
            alloc={  # type: ignore[dict-item]
                a.address: {"balance": b}
                for a, b in zip([*SENDERS, OUTSIDER], [*START, 9_000], strict=True)
            },
            allowlist=[a.address for a in SENDERS],
        )
        self.node = self._open()
        self.balance = {a.address: b for a, b in zip(EVERYONE, [*START, 9_000], strict=True)}
        self.nonce = {a.address: 0 for a in EVERYONE}
        self.pending: list[tuple[LocalAccount, LocalAccount, int, bytes]] = []
        self.sealed_raw: list[bytes] = []

    def _open(self) -> Node:
        return open_node(self.dir, self.genesis, max_nonce_gap=NONCE_GAP)

    def teardown(self) -> None:
        self.node.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- model helpers -----------------------------------------------------------------------

    def _next_nonce(self, account: LocalAccount) -> int:
        return self.nonce[account.address] + sum(1 for s, *_ in self.pending if s is account)

    def _spendable(self, account: LocalAccount) -> int:
        pending = sum(v for s, _, v, _ in self.pending if s is account)
        return self.balance[account.address] - pending

    def _refused(self, raw: bytes) -> None:
        try:
            self.node.submit_raw_transaction(raw)
        except TransactionRejected:
            return
        raise AssertionError("the node accepted a transaction the model calls invalid")

    # -- rules -------------------------------------------------------------------------------

    @rule(sender=who, recipient=anyone, share=st.floats(0, 1))
    def valid_transfer(self, sender: int, recipient: int, share: float) -> None:
        account, to = SENDERS[sender], EVERYONE[recipient]
        value = int(self._spendable(account) * share)
        raw = transfer(account, to.address, value, self._next_nonce(account))
        self.node.submit_raw_transaction(raw)
        self.pending.append((account, to, value, raw))

    @rule(sender=who, recipient=anyone, extra=st.integers(1, 10**6))
    def overspend(self, sender: int, recipient: int, extra: int) -> None:
        account = SENDERS[sender]
        value = self._spendable(account) + extra
        self._refused(
            transfer(account, EVERYONE[recipient].address, value, self._next_nonce(account))
        )

    @rule(sender=who, back=st.integers(1, 3))
    def nonce_too_low(self, sender: int, back: int) -> None:
        account = SENDERS[sender]
        nonce = self.nonce[account.address] - back
        if nonce >= 0:
            self._refused(transfer(account, OUTSIDER.address, 0, nonce))

    @rule(sender=who, ahead=st.integers(NONCE_GAP + 1, NONCE_GAP + 20))
    def nonce_gap_too_wide(self, sender: int, ahead: int) -> None:
        account = SENDERS[sender]
        self._refused(transfer(account, OUTSIDER.address, 0, self._next_nonce(account) + ahead))

    @rule(sender=who, chain_id=st.integers(1, 10**6).filter(lambda c: c != 44051))
    def wrong_chain(self, sender: int, chain_id: int) -> None:
        account = SENDERS[sender]
        self._refused(
            transfer(account, OUTSIDER.address, 0, self._next_nonce(account), chain_id=chain_id)
        )

    @rule(recipient=anyone)
    def unlisted_sender(self, recipient: int) -> None:
        self._refused(
            transfer(OUTSIDER, EVERYONE[recipient].address, 1, self.nonce[OUTSIDER.address])
        )

    @rule(garbage=st.binary(max_size=64))
    def garbage_bytes(self, garbage: bytes) -> None:
        self._refused(b"\x02" + garbage)

    @rule(sender=who, field=st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7]))
    def tampered_field(self, sender: int, field: int) -> None:
        """Change one signed field after signing: the signature then recovers some other,
        unlisted account (or the chain id is wrong)."""
        account = SENDERS[sender]
        raw = transfer(account, OUTSIDER.address, 1, self._next_nonce(account))
        fields = rlp.decode(raw[1:])
        if field == 5:
            fields[5] = to_canonical_address(SENDERS[0].address)
        elif field == 7:
            fields[7] = b"\x01"
        else:
            bumped = int.from_bytes(fields[field], "big") + 1
            fields[field] = bumped.to_bytes((bumped.bit_length() + 7) // 8, "big")
        self._refused(b"\x02" + rlp.encode(fields))

    @precondition(lambda self: bool(self.sealed_raw) or bool(self.pending))
    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        known = self.sealed_raw + [raw for *_, raw in self.pending]
        self._refused(data.draw(st.sampled_from(known)))

    @rule()
    def seal(self) -> None:
        while self.node.seal_once():
            pass
        for sender, to, value, raw in self.pending:
            self.balance[sender.address] -= value
            self.balance[to.address] += value
            self.nonce[sender.address] += 1
            self.sealed_raw.append(raw)
        self.pending.clear()

    @rule()
    def restart(self) -> None:
        """The pool is memory only: unsealed transactions are gone after a restart."""
        self.node.close()
        self.node = self._open()
        self.pending.clear()

    # -- the property ------------------------------------------------------------------------

    @invariant()
    def head_agrees_with_the_model(self) -> None:
        accounts = self.node.accounts_at(self.node.head)
        for account in EVERYONE:
            address = to_canonical_address(account.address)
            assert accounts.get_balance(address) == self.balance[account.address]
            assert accounts.get_nonce(address) == self.nonce[account.address]
            assert self.node.pending_nonce(address) == self._next_nonce(account)


ChainModel.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestChainModel = ChainModel.TestCase
