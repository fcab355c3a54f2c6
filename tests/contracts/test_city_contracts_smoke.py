"""Smoke check of the city contracts (authority, registry, token) on real nodes through web3.py.

A scratch proof that the contracts deploy, wire up through the AccessManager and enforce their
rules; the full contract suites (role matrix, stateful invariants) live elsewhere.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from eth_abi.abi import decode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError
from web3.logs import DISCARD

from ledger.contracts import load_artifact
from tests.support.web3tx import send

# Role ids (contracts/src/access/CityRoles.sol).
ADMIN, TREASURY, REGISTRAR, PAUSER, TREASURY_LARGE, RECOVERY = 0, 1, 2, 9, 10, 11
RESIDENT, MERCHANT = 1, 2
ACTIVE, FROZEN, RETIRED = 1, 2, 3
MINT_LIMIT = 1_000_000
LARGE_MINT_DELAY = 2  # seconds


def ref(text: str) -> bytes:
    return keccak(text=text)


@dataclass
class City:
    w3: Web3
    authority: Contract
    registry: Contract
    token: Contract
    admin: LocalAccount
    registrar: LocalAccount
    treasury: LocalAccount
    pauser: LocalAccount
    large_treasury: LocalAccount
    alice: LocalAccount
    bob: LocalAccount
    alice_new: LocalAccount
    stranger: LocalAccount

    def tx(self, account: LocalAccount, function: ContractFunction) -> Any:
        estimate = function.estimate_gas({"from": account.address})
        tx = function.build_transaction({"from": account.address, "gas": with_margin(estimate)})
        receipt = send(self.w3, account, dict(tx))
        assert receipt["status"] == 1, receipt
        return receipt


def with_margin(estimate: int) -> int:
    """Gas limit with a 20% margin: the embedded node's eth_estimateGas comes out 163 gas short
    for the CityAuthority deployment (anvil's is exact), so an exact estimate can run out."""
    return estimate * 6 // 5 + 10_000


def custom_error(
    abis: Sequence[Sequence[Any]], action: Callable[[], object]
) -> tuple[str, tuple[Any, ...]]:
    """Run ``action``, expect a ContractCustomError, and decode it against the given ABIs."""
    with pytest.raises(ContractCustomError) as caught:
        action()
    data = caught.value.data
    assert isinstance(data, str), data
    raw = bytes.fromhex(data.removeprefix("0x"))
    for abi in abis:
        for entry in abi:
            if entry.get("type") != "error":
                continue
            types = [i["type"] for i in entry["inputs"]]
            if keccak(text=f"{entry['name']}({','.join(types)})")[:4] == raw[:4]:
                values = decode(types, raw[4:])
                return entry["name"], tuple(
                    to_checksum_address(v) if t == "address" else v
                    for t, v in zip(types, values, strict=True)
                )
    raise AssertionError(f"unknown custom error {raw.hex()}")


@pytest.fixture(scope="module")
def city(any_chain: Web3, accounts: list[LocalAccount]) -> City:
    w3 = any_chain
    admin, registrar, treasury, pauser, large, alice, bob, alice_new, stranger = accounts[:9]
    art = {n: load_artifact(n) for n in ("CityAuthority", "ResidentRegistry", "CityToken")}

    def contract(name: str, *args: Any) -> Contract:
        data = (
            w3.eth.contract(abi=art[name].abi, bytecode=art[name].bytecode)
            .constructor(*args)
            .data_in_transaction
        )
        estimate = w3.eth.estimate_gas({"from": admin.address, "data": data})
        receipt = send(w3, admin, {"data": data, "gas": with_margin(estimate)})
        assert receipt["status"] == 1, (name, receipt)
        address = receipt["contractAddress"]
        assert address is not None
        return w3.eth.contract(address=address, abi=art[name].abi)

    authority = contract("CityAuthority", admin.address)
    registry = contract("ResidentRegistry", authority.address)
    token = contract(
        "CityToken", "Sejong Local Currency", "SJW", authority.address, registry.address, MINT_LIMIT
    )
    c = City(
        w3,
        authority,
        registry,
        token,
        admin,
        registrar,
        treasury,
        pauser,
        large,
        alice,
        bob,
        alice_new,
        stranger,
    )
    role_map = {
        registry: {REGISTRAR: ["register", "update", "freeze", "unfreeze", "recover"]},
        token: {
            TREASURY: ["mint"],
            TREASURY_LARGE: ["mintAboveLimit"],
            PAUSER: ["pause", "unpause"],
            RECOVERY: ["recoverBalance"],
        },
    }
    for target, roles in role_map.items():
        for role, names in roles.items():
            selectors = [_selector(target.abi, name) for name in names]
            c.tx(admin, authority.functions.setTargetFunctionRole(target.address, selectors, role))
    c.tx(admin, authority.functions.grantRole(REGISTRAR, registrar.address, 0))
    c.tx(admin, authority.functions.grantRole(TREASURY, treasury.address, 0))
    c.tx(admin, authority.functions.grantRole(PAUSER, pauser.address, 0))
    c.tx(admin, authority.functions.grantRole(TREASURY_LARGE, large.address, LARGE_MINT_DELAY))
    c.tx(admin, authority.functions.grantRole(RECOVERY, registry.address, 0))
    c.tx(admin, registry.functions.setToken(token.address))
    return c


def _selector(abi: Sequence[Any], name: str) -> bytes:
    (entry,) = [e for e in abi if e.get("type") == "function" and e["name"] == name]
    types = ",".join(i["type"] for i in entry["inputs"])
    return keccak(text=f"{name}({types})")[:4]


def test_metadata_and_wiring(city: City) -> None:
    t = city.token.functions
    assert t.name().call() == "Sejong Local Currency"
    assert t.symbol().call() == "SJW"
    assert t.decimals().call() == 0
    assert t.registry().call() == city.registry.address
    assert city.registry.functions.token().call() == city.token.address
    assert t.mintLimit().call() == MINT_LIMIT
    name, _ = custom_error(
        [city.registry.abi],
        lambda: city.registry.functions.setToken(city.token.address).call(
            {"from": city.admin.address}
        ),
    )
    assert name == "ResidentRegistryTokenAlreadySet"


def test_register_mint_transfer_freeze_recover_redeem_pause(city: City) -> None:
    r, t = city.registry.functions, city.token.functions
    abis = [city.registry.abi, city.token.abi, city.authority.abi]
    alice, bob = city.alice, city.bob

    # Strangers cannot register.
    name, args = custom_error(
        abis,
        lambda: r.register(alice.address, RESIDENT, 501, ref("cred-a")).call(
            {"from": city.stranger.address}
        ),
    )
    assert (name, args) == ("AccessManagedUnauthorized", (city.stranger.address,))

    receipt = city.tx(city.registrar, r.register(alice.address, RESIDENT, 501, ref("cred-alice")))
    (event,) = city.registry.events.AccountRegistered().process_receipt(receipt, errors=DISCARD)
    assert event["args"]["account"] == alice.address
    city.tx(city.registrar, r.register(bob.address, MERCHANT, 501, ref("cred-bob")))
    assert r.registeredCount().call() == 2
    assert r.isActive(alice.address).call()
    assert r.registrationOf(alice.address).call()[:3] == (RESIDENT, ACTIVE, 501)

    # Mint against a deposit reference, once only, within the limit.
    city.tx(city.treasury, t.mint(alice.address, 10_000, ref("deposit-1")))
    assert t.balanceOf(alice.address).call() == 10_000
    name, args = custom_error(
        abis,
        lambda: t.mint(alice.address, 1, ref("deposit-1")).call({"from": city.treasury.address}),
    )
    assert (name, args) == ("CityTokenDepositRefUsed", (ref("deposit-1"),))
    name, args = custom_error(
        abis,
        lambda: t.mint(alice.address, MINT_LIMIT + 1, ref("d2")).call(
            {"from": city.treasury.address}
        ),
    )
    assert (name, args) == ("CityTokenMintAboveLimit", (MINT_LIMIT + 1, MINT_LIMIT))
    name, args = custom_error(
        abis,
        lambda: t.mint(city.stranger.address, 5, ref("d3")).call({"from": city.treasury.address}),
    )
    assert (name, args) == ("CityTokenAccountNotActive", (city.stranger.address,))

    # Transfer between active accounts; not to an unregistered one.
    city.tx(alice, t.transfer(bob.address, 2_500))
    assert t.balanceOf(bob.address).call() == 2_500
    name, args = custom_error(
        abis, lambda: t.transfer(city.stranger.address, 1).call({"from": alice.address})
    )
    assert (name, args) == ("CityTokenAccountNotActive", (city.stranger.address,))

    # Freeze blocks both directions; unfreeze restores.
    city.tx(city.registrar, r.freeze(bob.address))
    assert r.statusOf(bob.address).call() == FROZEN
    name, args = custom_error(
        abis, lambda: t.transfer(bob.address, 1).call({"from": alice.address})
    )
    assert (name, args) == ("CityTokenAccountNotActive", (bob.address,))
    name, args = custom_error(
        abis, lambda: t.transfer(alice.address, 1).call({"from": bob.address})
    )
    assert (name, args) == ("CityTokenAccountNotActive", (bob.address,))
    city.tx(city.registrar, r.unfreeze(bob.address))

    # Pause blocks transfers, mints, redemptions and recovery.
    city.tx(city.pauser, t.pause())
    assert t.paused().call()
    for action in (
        lambda: t.transfer(bob.address, 1).call({"from": alice.address}),
        lambda: t.mint(alice.address, 1, ref("d4")).call({"from": city.treasury.address}),
        lambda: t.redeem(1, ref("s0")).call({"from": alice.address}),
        lambda: r.recover(alice.address, city.alice_new.address).call(
            {"from": city.registrar.address}
        ),
    ):
        assert custom_error(abis, action)[0] == "EnforcedPause"
    city.tx(city.pauser, t.unpause())

    # Recovery (of a frozen account) moves registration and balance; the old account is retired.
    city.tx(city.registrar, r.freeze(alice.address))
    receipt = city.tx(city.registrar, r.recover(alice.address, city.alice_new.address))
    (event,) = city.registry.events.AccountRecovered().process_receipt(receipt, errors=DISCARD)
    assert event["args"]["balance"] == 7_500
    (moved,) = city.token.events.BalanceRecovered().process_receipt(receipt, errors=DISCARD)
    assert moved["args"]["to"] == city.alice_new.address
    assert t.balanceOf(alice.address).call() == 0
    assert t.balanceOf(city.alice_new.address).call() == 7_500
    assert r.statusOf(alice.address).call() == RETIRED
    assert r.registrationOf(city.alice_new.address).call()[:3] == (RESIDENT, ACTIVE, 501)
    assert r.registeredCount().call() == 2
    name, _ = custom_error(
        abis,
        lambda: r.register(alice.address, RESIDENT, 1, ref("x")).call(
            {"from": city.registrar.address}
        ),
    )
    assert name == "ResidentRegistryRetired"
    # The token refuses to move the balance of an account that is not retired.
    name, args = custom_error(
        abis,
        lambda: t.recoverBalance(bob.address, city.alice_new.address).call(
            {"from": city.registry.address}
        ),
    )
    assert (name, args) == ("CityTokenAccountNotRetired", (bob.address,))

    # Redeem burns against a unique settlement reference.
    receipt = city.tx(city.alice_new, t.redeem(500, ref("settle-1")))
    (event,) = city.token.events.Redeemed().process_receipt(receipt, errors=DISCARD)
    assert event["args"]["amount"] == 500
    name, _ = custom_error(abis, lambda: t.redeem(1, ref("settle-1")).call({"from": bob.address}))
    assert name == "CityTokenSettlementRefUsed"
    assert t.totalMinted().call() == 10_000
    assert t.totalBurned().call() == 500
    assert t.totalSupply().call() == 9_500


def test_mint_above_limit_needs_a_scheduled_operation(city: City) -> None:
    r, t, am = city.registry.functions, city.token.functions, city.authority.functions
    carol = city.w3.eth.account.from_key(keccak(text="smoke-carol"))
    city.tx(city.registrar, r.register(carol.address, RESIDENT, 7, ref("cred-carol")))
    amount = MINT_LIMIT * 5
    call = t.mintAboveLimit(carol.address, amount, ref("big-deposit"))
    name, _ = custom_error(
        [city.token.abi, city.authority.abi],
        lambda: call.call({"from": city.large_treasury.address}),
    )
    assert name == "AccessManagerNotScheduled"
    data = call._encode_transaction_data()
    city.tx(city.large_treasury, am.schedule(city.token.address, data, 0))
    # Wait for the delay in chain time: seal (self-transfer) blocks until the latest block is
    # past the scheduled time. Polling wall time is not enough: the embedded node gives each
    # block at least its parent's timestamp + 1 s, so under load chain time runs ahead of the
    # clock; and eth_estimateGas runs against the latest block, which an idle node does not renew.
    me = city.large_treasury
    ready_at = am.getSchedule(am.hashOperation(me.address, city.token.address, data).call()).call()
    assert ready_at > 0
    while city.w3.eth.get_block("latest")["timestamp"] < ready_at:
        time.sleep(0.5)
        assert send(city.w3, me, {"to": me.address, "value": 0, "gas": 21_000})["status"] == 1
    city.tx(city.large_treasury, am.execute(city.token.address, data))
    assert t.balanceOf(carol.address).call() == amount


def test_permit_lets_a_relayer_move_tokens(city: City) -> None:
    w3, t = city.w3, city.token.functions
    owner, spender = city.alice_new, city.bob
    value, deadline = 100, 2**63
    nonce = t.nonces(owner.address).call()
    signed = owner.sign_typed_data(
        domain_data={
            "name": "Sejong Local Currency",
            "version": "1",
            "chainId": w3.eth.chain_id,
            "verifyingContract": city.token.address,
        },
        message_types={
            "Permit": [
                {"name": "owner", "type": "address"},
                {"name": "spender", "type": "address"},
                {"name": "value", "type": "uint256"},
                {"name": "nonce", "type": "uint256"},
                {"name": "deadline", "type": "uint256"},
            ]
        },
        message_data={
            "owner": owner.address,
            "spender": spender.address,
            "value": value,
            "nonce": nonce,
            "deadline": deadline,
        },
    )
    before = t.balanceOf(spender.address).call()
    # The relayer (here the spender) submits the permit, then pulls the tokens.
    city.tx(
        spender,
        t.permit(
            owner.address,
            spender.address,
            value,
            deadline,
            signed.v,
            signed.r.to_bytes(32, "big"),
            signed.s.to_bytes(32, "big"),
        ),
    )
    city.tx(spender, t.transferFrom(owner.address, spender.address, value))
    assert t.balanceOf(spender.address).call() == before + value
