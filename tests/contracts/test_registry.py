"""ResidentRegistry's rules on the embedded node: registration, updates, freezing, lost-key recovery
and the one-time link to the token.

Accounts move None -> Active <-> Frozen, and Active/Frozen -> Retired by a recovery; a retired
address is dead for good. Every refusal is checked by its exact custom error, every change by its
event and by reading the registration back.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest
from eth_utils import function_abi_to_4byte_selector

from cityledger.testing.city import TestCity
from ledger.contracts.base import city_artifact
from ledger.contracts.registry import ResidentRegistry
from ledger.contracts.token import CityToken
from ledger.exceptions import AccessDeniedError, RegistryError
from ledger.roles import Role
from ledger.types import AccountKind, AccountStatus
from tests.contracts.helpers import Town, credential, new_ref, only_event, outsider, reverts

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


@pytest.fixture(scope="module")
def town(test_city: TestCity) -> Town:
    return Town(test_city)


def block_time(town: Town, receipt: Any) -> int:
    return int(town.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"])


def deploy(town: Town, name: str, *args: Any) -> str:
    artifact = city_artifact(name)
    data = (
        town.chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        .constructor(*args)
        .data_in_transaction
    )
    receipt = town.chain.transact(town.admin, data=bytes.fromhex(data[2:]))
    return str(receipt["contractAddress"])


def test_register_records_kind_district_credential_and_time(town: Town) -> None:
    account = outsider().address
    count = town.registry.registered_count()
    cred = credential("merchant-7")
    receipt = town.registry.register(town.registrar, account, AccountKind.MERCHANT, 7, cred)
    assert only_event(receipt, town.registry, "AccountRegistered") == {
        "account": account,
        "kind": AccountKind.MERCHANT,
        "district": 7,
        "credentialHash": cred,
    }
    registration = town.registry.registration_of(account)
    assert registration.kind is AccountKind.MERCHANT
    assert registration.status is AccountStatus.ACTIVE
    assert registration.district == 7
    assert registration.credential_hash == cred
    assert registration.registered_at == block_time(town, receipt)
    assert town.registry.is_active(account)
    assert town.registry.registered_count() == count + 1
    functions = town.registry.contract.functions
    assert town.chain.call(functions.statusOf(account)) == AccountStatus.ACTIVE
    assert town.chain.call(functions.kindOf(account)) == AccountKind.MERCHANT


def test_every_kind_can_be_registered_and_none_is_refused(town: Town) -> None:
    for kind in AccountKind:
        account = outsider().address
        register = partial(
            town.registry.register, town.registrar, account, kind, 1, credential(account)
        )
        if kind is AccountKind.NONE:
            error = reverts(register, "ResidentRegistryInvalidKind")
            assert isinstance(error, RegistryError)
            assert town.registry.registration_of(account).status is AccountStatus.NONE
        else:
            register()
            assert town.registry.registration_of(account).kind is kind


def test_register_refuses_the_zero_address_empty_credentials_and_a_second_registration(
    town: Town,
) -> None:
    kind = AccountKind.RESIDENT
    reverts(
        lambda: town.registry.register(town.registrar, ZERO_ADDRESS, kind, 1, credential("z")),
        "ResidentRegistryZeroAddress",
    )
    fresh = outsider().address
    reverts(
        lambda: town.registry.register(town.registrar, fresh, kind, 1, bytes(32)),
        "ResidentRegistryEmptyCredential",
    )
    active, frozen = outsider().address, outsider().address
    town.register(active)
    town.register(frozen)
    town.registry.freeze(town.registrar, frozen)
    count = town.registry.registered_count()
    for account in (active, frozen):
        error = reverts(
            partial(town.registry.register, town.registrar, account, kind, 2, credential("x")),
            "ResidentRegistryAlreadyRegistered",
            account=account,
        )
        assert isinstance(error, RegistryError)
        assert town.registry.registration_of(account).district != 2
    assert town.registry.registered_count() == count


def test_update_changes_the_details_but_never_the_status_or_registration_time(town: Town) -> None:
    account = outsider().address
    town.register(account)
    registered_at = town.registry.registration_of(account).registered_at
    new_cred = credential("reissued card")
    receipt = town.registry.update(town.registrar, account, AccountKind.PROSUMER, 42, new_cred)
    assert only_event(receipt, town.registry, "AccountUpdated") == {
        "account": account,
        "kind": AccountKind.PROSUMER,
        "district": 42,
        "credentialHash": new_cred,
    }
    registration = town.registry.registration_of(account)
    assert (registration.kind, registration.district, registration.credential_hash) == (
        AccountKind.PROSUMER,
        42,
        new_cred,
    )
    assert registration.status is AccountStatus.ACTIVE
    assert registration.registered_at == registered_at

    town.registry.freeze(town.registrar, account)  # a frozen account can be corrected, stays frozen
    town.registry.update(town.registrar, account, AccountKind.DATA_BUYER, 43, new_cred)
    registration = town.registry.registration_of(account)
    assert (registration.kind, registration.status) == (
        AccountKind.DATA_BUYER,
        AccountStatus.FROZEN,
    )

    reverts(
        lambda: town.registry.update(town.registrar, account, AccountKind.NONE, 1, new_cred),
        "ResidentRegistryInvalidKind",
    )
    reverts(
        lambda: town.registry.update(town.registrar, account, AccountKind.RESIDENT, 1, bytes(32)),
        "ResidentRegistryEmptyCredential",
    )
    stranger = outsider().address
    reverts(
        lambda: town.registry.update(town.registrar, stranger, AccountKind.RESIDENT, 1, new_cred),
        "ResidentRegistryNotRegistered",
        account=stranger,
    )


def test_freeze_and_unfreeze_move_between_active_and_frozen_only(town: Town) -> None:
    account = outsider().address
    town.register(account)
    count = town.registry.registered_count()
    receipt = town.registry.freeze(town.registrar, account)
    assert only_event(receipt, town.registry, "AccountFrozen") == {"account": account}
    assert town.registry.registration_of(account).status is AccountStatus.FROZEN
    assert not town.registry.is_active(account)
    reverts(
        lambda: town.registry.freeze(town.registrar, account),
        "ResidentRegistryNotActive",
        account=account,
    )
    receipt = town.registry.unfreeze(town.registrar, account)
    assert only_event(receipt, town.registry, "AccountUnfrozen") == {"account": account}
    assert town.registry.is_active(account)
    reverts(
        lambda: town.registry.unfreeze(town.registrar, account),
        "ResidentRegistryNotFrozen",
        account=account,
    )
    assert town.registry.registered_count() == count  # frozen accounts still count
    stranger = outsider().address
    for change in (town.registry.freeze, town.registry.unfreeze):
        reverts(
            partial(change, town.registrar, stranger),
            "ResidentRegistryNotRegistered",
            account=stranger,
        )


@pytest.mark.parametrize("frozen_first", [False, True], ids=["active", "frozen"])
def test_recover_moves_the_registration_to_the_new_account_and_retires_the_old(
    town: Town, frozen_first: bool
) -> None:
    old, new = outsider().address, outsider().address
    cred = credential(old)
    town.registry.register(town.registrar, old, AccountKind.MERCHANT, 9, cred)
    before = town.registry.registration_of(old)
    if frozen_first:  # a frozen account is recovered too (the usual case: freeze, then recover)
        town.registry.freeze(town.registrar, old)
    count = town.registry.registered_count()

    receipt = town.registry.recover(town.registrar, old, new)
    assert only_event(receipt, town.registry, "AccountRecovered") == {
        "oldAccount": old,
        "newAccount": new,
        "balance": 0,
    }
    moved = town.registry.registration_of(new)
    assert (moved.kind, moved.district, moved.credential_hash, moved.registered_at) == (
        AccountKind.MERCHANT,
        9,
        cred,
        before.registered_at,
    )
    assert moved.status is AccountStatus.ACTIVE
    assert town.registry.registration_of(old).status is AccountStatus.RETIRED
    assert not town.registry.is_active(old)
    assert town.registry.registered_count() == count

    # Recovering again (a second lost key) keeps the original registration time.
    newer = outsider().address
    town.registry.recover(town.registrar, new, newer)
    assert town.registry.registration_of(newer).registered_at == before.registered_at


def test_a_retired_account_can_never_be_registered_or_used_again(town: Town) -> None:
    old, new = outsider().address, outsider().address
    town.register(old)
    town.registry.recover(town.registrar, old, new)
    spare = outsider().address
    town.register(spare)
    attempts = {
        "register": partial(
            town.registry.register, town.registrar, old, AccountKind.RESIDENT, 1, credential("x")
        ),
        "update": partial(
            town.registry.update, town.registrar, old, AccountKind.RESIDENT, 1, credential("x")
        ),
        "freeze": partial(town.registry.freeze, town.registrar, old),
        "unfreeze": partial(town.registry.unfreeze, town.registrar, old),
        "recover from it": partial(town.registry.recover, town.registrar, old, outsider().address),
        "recover onto it": partial(town.registry.recover, town.registrar, spare, old),
    }
    for what, attempt in attempts.items():
        error = reverts(attempt, "ResidentRegistryRetired", account=old)
        assert isinstance(error, RegistryError), what
    assert town.registry.registration_of(old).status is AccountStatus.RETIRED
    assert town.registry.registration_of(spare).status is AccountStatus.ACTIVE


def test_a_spenders_registry_status_decides_whether_it_may_spend_its_allowances(
    town: Town,
) -> None:
    """The token asks the registry at each spend: freezing a spender stops it at once with the
    allowance left intact, unfreezing lets it spend again, and a recovery leaves the allowance
    with the retired address (refused for good) rather than passing it to the new one."""
    owner, payee, spender = town.resident(balance=1_000), town.resident(), town.resident()
    town.token.approve(owner, spender.address, 300)
    pull = town.token.contract.functions.transferFrom(owner.address, payee.address, 100)

    def allowance(of: str) -> int:
        return int(town.chain.call(town.token.contract.functions.allowance(owner.address, of)))

    town.chain.transact(spender, pull)
    town.registry.freeze(town.registrar, spender.address)
    reverts(
        lambda: town.chain.transact(spender, pull),
        "CityTokenSpenderNotActive",
        spender=spender.address,
        status="frozen",
    )
    assert allowance(spender.address) == 200
    town.registry.unfreeze(town.registrar, spender.address)
    town.chain.transact(spender, pull)
    assert town.token.balance_of(payee.address) == 200

    successor = town.person()
    town.registry.recover(town.registrar, spender.address, successor.address)
    reverts(
        lambda: town.chain.transact(spender, pull),
        "CityTokenSpenderNotActive",
        spender=spender.address,
        status="retired",
    )
    assert (allowance(spender.address), allowance(successor.address)) == (100, 0)
    reverts(
        lambda: town.chain.transact(successor, pull),
        "ERC20InsufficientAllowance",
        spender=successor.address,
        allowance=0,
        needed=100,
    )
    assert town.token.balance_of(owner.address) == 800


def test_recover_refuses_a_missing_old_account_and_a_taken_or_zero_new_one(town: Town) -> None:
    old, taken = outsider().address, outsider().address
    town.register(old)
    town.register(taken)
    stranger = outsider().address
    reverts(
        lambda: town.registry.recover(town.registrar, old, ZERO_ADDRESS),
        "ResidentRegistryZeroAddress",
    )
    reverts(
        lambda: town.registry.recover(town.registrar, stranger, outsider().address),
        "ResidentRegistryNotRegistered",
        account=stranger,
    )
    for new in (taken, old):
        reverts(
            partial(town.registry.recover, town.registrar, old, new),
            "ResidentRegistryAlreadyRegistered",
            account=new,
        )
    town.registry.freeze(town.registrar, taken)
    reverts(
        lambda: town.registry.recover(town.registrar, old, taken),
        "ResidentRegistryAlreadyRegistered",
        account=taken,
    )
    assert town.registry.registration_of(old).status is AccountStatus.ACTIVE


def test_the_citys_registry_token_link_is_set_once(town: Town) -> None:
    assert town.registry.token() == town.token.address
    reverts(
        lambda: town.registry.set_token(town.admin, town.token.address),
        "ResidentRegistryTokenAlreadySet",
    )


def test_a_registry_links_only_a_token_that_names_it_and_recovers_only_with_the_recovery_role(
    town: Town,
) -> None:
    """A second registry and token under the same authority, wired by hand: what the deployment
    does for the city's own pair, and what goes wrong without each step."""
    registry = ResidentRegistry(
        town.chain, deploy(town, "ResidentRegistry", town.authority.address)
    )
    # Functions never mapped stay ADMIN-only (AccessManager's default): the admin acts here.
    reverts(lambda: registry.set_token(town.admin, ZERO_ADDRESS), "ResidentRegistryZeroAddress")
    reverts(
        lambda: registry.set_token(town.admin, town.token.address),
        "ResidentRegistryTokenMismatch",
        token=town.token.address,
    )
    reverts(
        lambda: registry.register(
            town.registrar, outsider().address, AccountKind.RESIDENT, 1, credential("r")
        ),
        "AccessManagedUnauthorized",
        caller=town.registrar.address,
    )
    # Without a token a recovery moves the registration only.
    first, second = outsider().address, outsider().address
    registry.register(town.admin, first, AccountKind.RESIDENT, 1, credential(first))
    receipt = registry.recover(town.admin, first, second)
    assert only_event(receipt, registry, "AccountRecovered")["balance"] == 0

    token = CityToken(
        town.chain,
        deploy(town, "CityToken", "Side", "SIDE", town.authority.address, registry.address, 10**6),
    )
    receipt = registry.set_token(town.admin, token.address)
    assert only_event(receipt, registry, "TokenSet") == {"token": token.address}
    reverts(
        lambda: registry.set_token(town.admin, token.address), "ResidentRegistryTokenAlreadySet"
    )

    # The registry does not hold the token's RECOVERY role yet: the recovery reverts as a whole.
    holder, successor = outsider().address, outsider().address
    registry.register(town.admin, holder, AccountKind.RESIDENT, 1, credential(holder))
    token.mint(town.admin, holder, 900, new_ref("side"))
    error = reverts(
        lambda: registry.recover(town.admin, holder, successor),
        "AccessManagedUnauthorized",
        caller=registry.address,
    )
    assert isinstance(error, AccessDeniedError)
    assert registry.registration_of(holder).status is AccountStatus.ACTIVE
    assert registry.registration_of(successor).status is AccountStatus.NONE

    recover_balance = next(e for e in token.contract.abi if e.get("name") == "recoverBalance")
    town.authority.set_target_function_role(
        town.admin, token.address, [function_abi_to_4byte_selector(recover_balance)], Role.RECOVERY
    )
    town.authority.grant_role(town.admin, Role.RECOVERY, registry.address)
    try:
        receipt = registry.recover(town.admin, holder, successor)
        assert only_event(receipt, registry, "AccountRecovered")["balance"] == 900
        assert token.balance_of(successor) == 900
    finally:
        town.authority.revoke_role(town.admin, Role.RECOVERY, registry.address)
