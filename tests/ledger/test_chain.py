"""ledger.chain.Chain against a real node: simulate-then-send, errors in words, nonces."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from cityledger.testing.accounts import make_accounts, write_genesis
from cityledger.testing.processes import NodeProcess, free_port
from cityledger.testing.web3tx import deploy, sign_with_gas
from ledger.chain import Chain
from ledger.contracts import load_artifact
from ledger.contracts.errors import default_table
from ledger.exceptions import (
    ChainUnavailableError,
    ContractRevertError,
    TransactionFailedError,
    TransactionRefusedError,
    WrongChainError,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "contracts"
PROBE = load_artifact("Probe", FIXTURES)


@pytest.fixture(scope="module")
def chain(embedded_node: NodeProcess) -> Chain:
    return Chain(embedded_node.url, chain_id=44051, errors=default_table((FIXTURES,)))


@pytest.fixture(scope="module")
def probe(chain: Chain, accounts: list[LocalAccount]) -> str:
    receipt = chain.transact(accounts[2], data=PROBE.bytecode)
    return str(receipt["contractAddress"])


def test_transact_and_call(chain: Chain, probe: str, accounts: list[LocalAccount]) -> None:
    contract = chain.contract(probe, PROBE.abi)
    before = chain.call(contract.functions.count())
    receipt = chain.transact(accounts[2], contract.functions.increment(5))
    assert receipt["status"] == 1
    assert chain.call(contract.functions.count()) == before + 5


def test_custom_error_is_decoded_before_anything_is_sent(
    chain: Chain, probe: str, accounts: list[LocalAccount]
) -> None:
    contract = chain.contract(probe, PROBE.abi)
    nonce_before = chain.w3.eth.get_transaction_count(accounts[2].address, "pending")
    with pytest.raises(ContractRevertError) as caught:
        chain.transact(accounts[2], contract.functions.increment(5000))
    assert caught.value.error == "ProbeTooLarge"
    assert caught.value.error_args == {"given": 5000, "max": 1000}
    assert chain.w3.eth.get_transaction_count(accounts[2].address, "pending") == nonce_before


def test_reason_and_panic_read_as_sentences(chain: Chain, probe: str) -> None:
    contract = chain.contract(probe, PROBE.abi)
    with pytest.raises(TransactionFailedError, match="probe: plain reason"):
        chain.call(contract.functions.failWithReason())
    with pytest.raises(TransactionFailedError, match="division by zero"):
        chain.call(contract.functions.failWithPanic())


def test_concurrent_sends_from_one_account_keep_nonces_straight(
    chain: Chain, probe: str, accounts: list[LocalAccount]
) -> None:
    contract = chain.contract(probe, PROBE.abi)
    before = chain.call(contract.functions.count())
    with ThreadPoolExecutor(8) as pool:
        receipts = list(
            pool.map(
                lambda _: chain.transact(accounts[3], contract.functions.increment(1)), range(16)
            )
        )
    assert all(r["status"] == 1 for r in receipts)
    assert chain.call(contract.functions.count()) == before + 16


def test_node_refusal_is_a_readable_error(chain: Chain) -> None:
    stranger = make_accounts(1, "chain-stranger")[0]
    with pytest.raises(TransactionRefusedError, match="not authorized"):
        chain.transact(stranger, to=stranger.address, value=0)


def test_unreachable_and_wrong_chain(embedded_node: NodeProcess) -> None:
    with pytest.raises(ChainUnavailableError, match="cannot reach"):
        _ = Chain(f"http://127.0.0.1:{free_port()}").chain_id
    with pytest.raises(WrongChainError, match="expected 1"):
        _ = Chain(embedded_node.url, chain_id=1).chain_id


def test_a_nonce_used_by_another_sender_is_read_again(
    chain: Chain, embedded_node: NodeProcess, probe: str, accounts: list[LocalAccount]
) -> None:
    """Each Chain counts its signers' nonces; when another client sent for the same account
    in between, the node's "nonce too low" makes it re-read the nonce and send once more."""
    other = Chain(embedded_node.url, chain_id=44051, errors=default_table((FIXTURES,)))
    contract = chain.contract(probe, PROBE.abi)
    before = chain.call(contract.functions.count())
    for client in (chain, other, chain, other, chain):
        assert client.transact(accounts[4], contract.functions.increment(1))["status"] == 1
    assert chain.call(contract.functions.count()) == before + 5


def test_a_nonce_pending_for_another_sender_is_read_again(
    node_factory: Callable[..., NodeProcess], tmp_path: Path, accounts: list[LocalAccount]
) -> None:
    """The same, while the other client's transaction still waits in the pool for its block
    (the node says "replacement transaction not supported")."""
    write_genesis(tmp_path / "genesis.json", accounts)
    node = node_factory(tmp_path / "genesis.json", "--block-period", "1")
    first, second = (Chain(node.url, chain_id=44051) for _ in range(2))
    sender, payee = accounts[5], accounts[6].address
    first.transact(sender, to=payee, value=1)  # counts the sender's next nonce
    pending = second.send(sender, to=payee, value=2)  # takes that nonce, not mined yet
    receipt = first.transact(sender, to=payee, value=3)
    assert receipt["status"] == 1
    assert second.wait(pending)["status"] == 1
    assert first.w3.eth.get_transaction_count(sender.address) == 3


def test_a_transaction_failed_by_an_earlier_one_of_its_block_gets_its_reason(
    node_factory: Callable[..., NodeProcess], tmp_path: Path, accounts: list[LocalAccount]
) -> None:
    """Two transfers of one whole balance sealed into one block: the second fails because of
    the first, so replaying it on the state before the block passes; the reason comes from
    the state after it (as for two payments of one invoice racing into one block)."""
    write_genesis(tmp_path / "genesis.json", accounts)
    node = node_factory(tmp_path / "genesis.json", "--block-period", "2")
    chain = Chain(node.url, chain_id=44051, errors=default_table((FIXTURES,)))
    owner, spender, payee = accounts[5], accounts[6], accounts[7].address
    token_artifact = load_artifact("BenchToken", FIXTURES)
    address = deploy(chain.w3, owner, token_artifact.abi, token_artifact.bytecode, 1_000)
    token = chain.contract(address, token_artifact.abi)
    chain.transact(owner, token.functions.transfer(spender.address, 10))  # a block was just sealed
    nonce = chain.w3.eth.get_transaction_count(spender.address)
    transfer = {"to": address, "data": token.encode_abi("transfer", args=[payee, 10])}
    raws = [
        sign_with_gas(chain.w3, spender, transfer, gas=100_000, nonce=nonce + offset)
        for offset in (0, 1)
    ]
    first, second = (chain.send_raw(bytes(raw)) for raw in raws)

    with pytest.raises(ContractRevertError) as caught:
        chain.wait(second)

    mined = chain.wait(first)
    failed = chain.w3.eth.get_transaction_receipt(second)
    assert failed["blockNumber"] == mined["blockNumber"], "the scenario needs one block"
    assert caught.value.error == "ERC20InsufficientBalance"
    assert caught.value.error_args["sender"] == spender.address
    assert chain.call(token.functions.balanceOf(payee)) == 10


def test_a_transaction_lost_in_a_crash_is_resent_by_the_waiting_chain(
    node_factory: Callable[..., NodeProcess], tmp_path: Path
) -> None:
    """A node keeps unmined transactions in memory only: kill -9 between send and seal forgot
    527 of 642 in the fault drill. The Chain that sent one keeps its signed bytes and, while
    it waits for the receipt (riding out the restart), sends them again."""
    sender, recipient = make_accounts(2, "crash-resend")
    write_genesis(tmp_path / "genesis.json", [sender, recipient])
    node = node_factory(tmp_path / "genesis.json", "--block-period", "4")
    chain = Chain(node.url, chain_id=44051)
    chain.wait(chain.send(sender, to=recipient.address, value=1))  # starts a block period
    lost = chain.send(sender, to=recipient.address, value=2)  # waits in the pool for ~4 s
    assert chain.in_flight(lost)
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(chain.wait, lost)
        node.kill9()  # before the sealer's next block
        node.start()
        receipt = waiting.result(timeout=120)
    assert receipt["status"] == 1
    assert receipt["transactionHash"] == lost
    assert not chain.in_flight(lost)  # mined: the bytes are let go
    assert chain.w3.eth.get_balance(recipient.address) == 10**24 + 3
