"""A relayed payment answered 202 (sent, not yet mined) survives a node crash before sealing:
a retry with the same Idempotency-Key looks at the chain again instead of replaying the stored
202, the API's Chain sends the signed payFor again (the node lost its pool), and the payment is
made once, by that one transaction."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from eth_account.signers.local import LocalAccount

from cityledger.testing.accounts import write_genesis
from cityledger.testing.api import ApiServer, World, pay_for_body, sign_in, signed
from cityledger.testing.processes import NodeProcess, free_port

SLOW_BLOCKS = ("--block-period", "3")


@pytest.fixture(scope="module")
def embedded_node(
    tmp_path_factory: pytest.TempPathFactory, accounts: list[LocalAccount]
) -> Iterator[NodeProcess]:
    """This module's own node: fast while the city is deployed, slowed down by the test."""
    root = tmp_path_factory.mktemp("recovery")
    write_genesis(root / "genesis.json", accounts)
    node = NodeProcess(root / "genesis.json", root / "node", free_port(), ("--block-period", "0"))
    node.start()
    yield node
    node.stop()


def test_a_pending_payment_lost_in_a_node_crash_is_sent_again_on_retry(
    world: World, serve: object, embedded_node: NodeProcess
) -> None:
    api: ApiServer = serve(relay_wait=0.3)  # type: ignore[operator]
    city = world.city
    router, chain = city.city.payments, city.city.chain
    merchant, payer = world.merchant_a, world.resident_1
    operator = world.service.address
    world.index()
    with api.client(world.key(merchant)) as shop, api.client() as anonymous:
        invoice = shop.post("/invoices", json={"amount": 3_000}).json()
        wallet_token = sign_in(anonymous, payer)
    body = pay_for_body(router, payer, invoice, int(time.time()) + 3600)
    ref = bytes.fromhex(invoice["ref"][2:])

    embedded_node.stop()
    embedded_node.extra_args = SLOW_BLOCKS  # a block at most every 3 s from now on
    embedded_node.start()
    # A transaction starts a block period, so the payment after it waits in the pool.
    chain.wait(chain.send(world.resident_2, to=world.spare[0].address, value=1))
    nonce_before = chain.w3.eth.get_transaction_count(operator)

    headers = {"Idempotency-Key": "pay-once-" + invoice["ref"]}
    with api.client(wallet_token) as wallet:
        first = wallet.post("/relay/pay", json=body, headers=headers)
        assert first.status_code == 202, first.text
        sent = first.json()["tx_hash"]
        embedded_node.kill9()  # before the sealer's next block: the pool is gone
        embedded_node.start()
        deadline = time.monotonic() + 60
        while True:
            retry = wallet.post("/relay/pay", json=body, headers=headers)
            assert retry.status_code in (201, 202), retry.text
            assert retry.json()["tx_hash"] == sent  # the same transaction, sent again
            if retry.status_code == 201:
                break
            assert time.monotonic() < deadline, "the payment was never mined"
            time.sleep(0.5)
    payment = router.payment_of(ref)
    assert payment is not None
    assert payment.payer == payer.address
    assert chain.w3.eth.get_transaction_count(operator) == nonce_before + 1


def test_a_pending_raw_relay_lost_in_a_node_crash_is_sent_again_on_retry(
    world: World, serve: object, embedded_node: NodeProcess
) -> None:
    """The same for bytes a resident signed: the stored 202 was replayed for ever and the
    transfer silently disappeared."""
    api: ApiServer = serve(relay_wait=0.3)  # type: ignore[operator]
    city = world.city
    token, chain = city.city.token, city.city.chain
    payer, payee = world.resident_2, world.merchant_b
    with api.client() as anonymous:
        wallet_token = sign_in(anonymous, payer)
    embedded_node.stop()
    embedded_node.extra_args = SLOW_BLOCKS
    embedded_node.start()
    chain.wait(chain.send(payer, to=world.spare[0].address, value=1))  # starts a block period
    before = token.balance_of(payee.address)
    nonce = chain.w3.eth.get_transaction_count(payer.address)
    raw = signed(city, payer, token.contract.functions.transfer(payee.address, 700), nonce)
    headers = {"Idempotency-Key": f"transfer-{nonce}"}
    with api.client(wallet_token) as wallet:
        first = wallet.post("/relay/transactions", json={"raw_transaction": raw}, headers=headers)
        assert first.status_code == 202, first.text
        embedded_node.kill9()
        embedded_node.start()
        deadline = time.monotonic() + 60
        while True:
            retry = wallet.post(
                "/relay/transactions", json={"raw_transaction": raw}, headers=headers
            )
            assert retry.status_code in (201, 202), retry.text
            assert retry.json()["tx_hash"] == first.json()["tx_hash"]
            if retry.status_code == 201:
                break
            assert time.monotonic() < deadline, "the transfer was never mined"
            time.sleep(0.5)
    assert token.balance_of(payee.address) == before + 700
