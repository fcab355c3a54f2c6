"""CityToken's rules, on the embedded node AND on anvil (the same assertions must hold on both).

Every write goes through the ledger's typed wrappers and ``Chain.transact``; a refused call is
checked by the exact custom error (name and arguments) the contract reverted with, the domain
exception it became, and by showing that nothing moved. Every successful state change is checked
for its events in the same transaction.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from web3.types import TxReceipt

from cityledger.testing.accounts import write_genesis
from cityledger.testing.city import LARGE_MINT_DELAY, deploy_test_city
from cityledger.testing.processes import NodeProcess
from ledger.exceptions import (
    AccessDeniedError,
    AccountNotActiveError,
    ContractRevertError,
    InsufficientBalanceError,
    ReferenceUsedError,
    TokenError,
    TokenPausedError,
)
from ledger.types import AccountStatus, reference
from tests.contracts.helpers import (
    Town,
    new_ref,
    only_event,
    outsider,
    reverts,
)

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
EMPTY_REF = "0x" + "00" * 32


@pytest.fixture(scope="module", params=["embedded", pytest.param("anvil", marks=pytest.mark.anvil)])
def town(request: pytest.FixtureRequest) -> Town:
    """The deployed city on the embedded node, then (a second module run) on anvil."""
    return Town(
        request.getfixturevalue("test_city" if request.param == "embedded" else "anvil_city")
    )


def supply(town: Town) -> tuple[int, int, int]:
    return town.token.total_supply(), town.token.total_minted(), town.token.total_burned()


def transfer_from(town: Town, spender: LocalAccount, owner: str, to: str, amount: int) -> TxReceipt:
    function = town.token.contract.functions.transferFrom(owner, to, amount)
    return town.chain.transact(spender, function)


def allowance(town: Town, owner: str, spender: str) -> int:
    return int(town.chain.call(town.token.contract.functions.allowance(owner, spender)))


def operation_id(town: Town, caller: str, data: bytes) -> str:
    function = town.authority.contract.functions.hashOperation(caller, town.token.address, data)
    return "0x" + bytes(town.chain.call(function)).hex()


def cancel(town: Town, signer: LocalAccount, caller: str, data: bytes) -> TxReceipt:
    function = town.authority.contract.functions.cancel(caller, town.token.address, data)
    return town.chain.transact(signer, function)


# -- metadata -------------------------------------------------------------------------------------


def test_the_token_has_no_decimals_and_knows_its_registry(town: Town) -> None:
    functions = town.token.contract.functions
    assert town.chain.call(functions.decimals()) == 0
    assert town.chain.call(functions.name()) == "Sejong Local Currency"
    assert town.token.symbol() == "SJW"
    assert town.chain.call(functions.registry()) == town.registry.address
    assert town.registry.token() == town.token.address
    assert town.token.mint_limit() == town.test_city.city.manifest.mint_limit == 1_000_000
    assert not town.token.paused()


# -- minting --------------------------------------------------------------------------------------


def test_mint_credits_an_active_account_against_its_deposit_reference(town: Town) -> None:
    resident = town.resident()
    ref = new_ref("dep")
    before = supply(town)
    receipt = town.token.mint(town.treasury, resident.address, 12_345, ref)
    assert town.token.balance_of(resident.address) == 12_345
    assert supply(town) == (before[0] + 12_345, before[1] + 12_345, before[2])
    assert town.token.deposit_ref_used(ref)
    assert only_event(receipt, town.token, "Transfer") == {
        "from": ZERO_ADDRESS,
        "to": resident.address,
        "value": 12_345,
    }
    assert only_event(receipt, town.token, "Minted") == {
        "to": resident.address,
        "amount": 12_345,
        "depositRef": reference(ref),
    }


def test_mint_needs_an_active_recipient(town: Town) -> None:
    stranger = outsider()  # never registered
    frozen = town.resident()
    town.registry.freeze(town.registrar, frozen.address)
    retired, successor = town.resident(), town.person()
    town.registry.recover(town.registrar, retired.address, successor.address)
    assert town.registry.registration_of(retired.address).status is AccountStatus.RETIRED

    ref = new_ref("dep")
    before = supply(town)
    for account in (stranger.address, frozen.address, retired.address):
        error = reverts(
            partial(town.token.mint, town.treasury, account, 500, ref),
            "CityTokenAccountNotActive",
            account=account,
        )
        assert isinstance(error, AccountNotActiveError)
        assert town.token.balance_of(account) == 0
    # Nothing was minted and the reference is still unused: it can back a valid mint.
    assert supply(town) == before
    assert not town.token.deposit_ref_used(ref)
    town.token.mint(town.treasury, successor.address, 500, ref)
    assert town.token.balance_of(successor.address) == 500


def test_mint_refuses_zero_amounts_empty_references_and_amounts_above_the_limit(
    town: Town,
) -> None:
    resident = town.resident()
    limit = town.token.mint_limit()
    before = supply(town)
    reverts(
        lambda: town.token.mint(town.treasury, resident.address, 0, new_ref()),
        "CityTokenZeroAmount",
    )
    reverts(
        lambda: town.token.mint(town.treasury, resident.address, 1, EMPTY_REF),
        "CityTokenEmptyReference",
    )
    error = reverts(
        lambda: town.token.mint(town.treasury, resident.address, limit + 1, new_ref()),
        "CityTokenMintAboveLimit",
        amount=limit + 1,
        limit=limit,
    )
    assert isinstance(error, TokenError)
    assert supply(town) == before
    town.token.mint(town.treasury, resident.address, limit, new_ref("dep"))  # the limit itself
    assert town.token.balance_of(resident.address) == limit


def test_a_deposit_reference_backs_one_mint_only(town: Town) -> None:
    first, second = town.resident(), town.resident()
    ref = new_ref("dep")
    town.token.mint(town.treasury, first.address, 1_000, ref)
    before = supply(town)
    for to, amount in ((first.address, 1_000), (second.address, 1)):
        error = reverts(
            partial(town.token.mint, town.treasury, to, amount, ref),
            "CityTokenDepositRefUsed",
            depositRef=ref,
        )
        assert isinstance(error, ReferenceUsedError)
        assert ref in error.message
    assert supply(town) == before
    assert town.token.balance_of(second.address) == 0


def test_a_mint_above_the_limit_must_be_scheduled_and_wait_for_the_delay(town: Town) -> None:
    resident = town.resident()
    limit = town.token.mint_limit()
    amount, ref = 3 * limit + 7, new_ref("big")
    data = town.token.calldata("mintAboveLimit", resident.address, amount, reference(ref))
    op = operation_id(town, town.treasury.address, data)
    mint_above = town.token.contract.functions.mintAboveLimit(
        resident.address, amount, reference(ref)
    )

    # Neither a plain mint nor an unscheduled mintAboveLimit goes through.
    reverts(
        lambda: town.token.mint(town.treasury, resident.address, amount, ref),
        "CityTokenMintAboveLimit",
        amount=amount,
        limit=limit,
    )
    error = reverts(
        lambda: town.chain.transact(town.treasury, mint_above),
        "AccessManagerNotScheduled",
        operationId=op,
    )
    assert isinstance(error, AccessDeniedError)

    receipt = town.authority.schedule(town.treasury, town.token.address, data)
    scheduled_at = int(town.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"])
    ready = town.authority.scheduled_at(town.treasury.address, town.token.address, data)
    assert ready == scheduled_at + LARGE_MINT_DELAY
    scheduled = only_event(receipt, town.authority, "OperationScheduled")
    assert (scheduled["caller"], scheduled["target"], scheduled["data"]) == (
        town.treasury.address,
        town.token.address,
        data,
    )
    assert scheduled["schedule"] == ready

    # Too early: the operation exists but is not due.
    reverts(
        lambda: town.authority.execute(town.treasury, town.token.address, data),
        "AccessManagerNotReady",
        operationId=op,
    )
    assert town.token.balance_of(resident.address) == 0

    town.advance_to(ready)
    receipt = town.authority.execute(town.treasury, town.token.address, data)
    assert only_event(receipt, town.token, "Minted") == {
        "to": resident.address,
        "amount": amount,
        "depositRef": reference(ref),
    }
    assert only_event(receipt, town.authority, "OperationExecuted")["operationId"].hex() == op[2:]
    assert town.token.balance_of(resident.address) == amount
    assert town.token.deposit_ref_used(ref)

    # The schedule was consumed: the same call cannot run twice.
    reverts(
        lambda: town.authority.execute(town.treasury, town.token.address, data),
        "AccessManagerNotScheduled",
        operationId=op,
    )


def test_a_due_large_mint_may_also_be_called_directly_which_consumes_the_schedule(
    town: Town,
) -> None:
    """OpenZeppelin's AccessManaged lets a delayed caller call the target itself once the
    operation is due (the target consumes the schedule); still never without the schedule."""
    resident = town.resident()
    amount, ref = town.token.mint_limit() + 1, new_ref("big")
    data = town.token.calldata("mintAboveLimit", resident.address, amount, reference(ref))
    mint_above = town.token.contract.functions.mintAboveLimit(
        resident.address, amount, reference(ref)
    )
    town.authority.schedule(town.treasury, town.token.address, data)
    town.advance_to(town.authority.scheduled_at(town.treasury.address, town.token.address, data))
    receipt = town.chain.transact(town.treasury, mint_above)
    assert only_event(receipt, town.token, "Minted")["amount"] == amount
    assert only_event(receipt, town.authority, "OperationExecuted")
    assert town.authority.scheduled_at(town.treasury.address, town.token.address, data) == 0


def test_the_guardian_or_the_scheduler_can_cancel_a_large_mint_nobody_else(town: Town) -> None:
    resident = town.resident()
    amount = town.token.mint_limit() * 2
    selector = "0x" + town.token.calldata("mintAboveLimit", ZERO_ADDRESS, 0, bytes(32))[:4].hex()
    for canceller in (town.admin, town.treasury):  # ADMIN is TREASURY_LARGE's guardian
        ref = new_ref("big")
        data = town.token.calldata("mintAboveLimit", resident.address, amount, reference(ref))
        town.authority.schedule(town.treasury, town.token.address, data)
        ready = town.authority.scheduled_at(town.treasury.address, town.token.address, data)
        for outsider_staff in (town.registrar, town.pauser):
            reverts(
                partial(cancel, town, outsider_staff, town.treasury.address, data),
                "AccessManagerUnauthorizedCancel",
                msgsender=outsider_staff.address,
                caller=town.treasury.address,
                target=town.token.address,
                selector=selector,
            )
        receipt = cancel(town, canceller, town.treasury.address, data)
        assert only_event(receipt, town.authority, "OperationCanceled")
        assert town.authority.scheduled_at(town.treasury.address, town.token.address, data) == 0
        town.advance_to(ready)
        reverts(
            partial(town.authority.execute, town.treasury, town.token.address, data),
            "AccessManagerNotScheduled",
            operationId=operation_id(town, town.treasury.address, data),
        )
        assert town.token.balance_of(resident.address) == 0
        assert not town.token.deposit_ref_used(ref)


def test_the_admin_sets_the_mint_limit(town: Town) -> None:
    resident = town.resident()
    old = town.token.mint_limit()
    try:
        receipt = town.token.set_mint_limit(town.admin, 2 * old)
        assert only_event(receipt, town.token, "MintLimitSet") == {
            "oldLimit": old,
            "newLimit": 2 * old,
        }
        town.token.mint(town.treasury, resident.address, 2 * old, new_ref("dep"))
        town.token.set_mint_limit(town.admin, 0)  # every mint must now be a scheduled one
        reverts(
            lambda: town.token.mint(town.treasury, resident.address, 1, new_ref()),
            "CityTokenMintAboveLimit",
            amount=1,
            limit=0,
        )
    finally:
        town.token.set_mint_limit(town.admin, old)
    assert town.token.mint_limit() == old
    assert town.token.balance_of(resident.address) == 2 * old


# -- transfers, freezing, registration ------------------------------------------------------------


def test_a_transfer_between_active_accounts_moves_exactly_the_amount(town: Town) -> None:
    payer, payee = town.resident(balance=10_000), town.resident()
    before = supply(town)
    receipt = town.token.transfer(payer, payee.address, 2_500)
    assert only_event(receipt, town.token, "Transfer") == {
        "from": payer.address,
        "to": payee.address,
        "value": 2_500,
    }
    assert town.token.balance_of(payer.address) == 7_500
    assert town.token.balance_of(payee.address) == 2_500
    assert supply(town) == before
    error = reverts(
        lambda: town.token.transfer(payer, payee.address, 7_501),
        "ERC20InsufficientBalance",
        sender=payer.address,
        balance=7_500,
        needed=7_501,
    )
    assert isinstance(error, InsufficientBalanceError)


def test_a_frozen_sender_or_recipient_cannot_move_tokens(town: Town) -> None:
    alice, bob = town.resident(balance=1_000), town.resident(balance=1_000)
    spender = town.resident()
    town.token.approve(alice, spender.address, 500)
    town.token.approve(bob, spender.address, 500)
    town.registry.freeze(town.registrar, alice.address)
    attempts = {
        "alice pays": lambda: town.token.transfer(alice, bob.address, 1),
        "bob pays alice": lambda: town.token.transfer(bob, alice.address, 1),
        "spender pulls from alice": lambda: transfer_from(
            town, spender, alice.address, bob.address, 1
        ),
        "spender pays alice from bob": lambda: transfer_from(
            town, spender, bob.address, alice.address, 1
        ),
        "alice redeems": lambda: town.token.redeem(alice, 1, new_ref("set")),
        "treasury mints to alice": lambda: town.token.mint(
            town.treasury, alice.address, 1, new_ref()
        ),
    }
    for what, attempt in attempts.items():
        error = reverts(attempt, "CityTokenAccountNotActive", account=alice.address)
        assert isinstance(error, AccountNotActiveError), what
    assert town.token.balance_of(alice.address) == 1_000
    assert town.token.balance_of(bob.address) == 1_000

    town.registry.unfreeze(town.registrar, alice.address)
    town.token.transfer(alice, bob.address, 100)
    transfer_from(town, spender, alice.address, bob.address, 100)
    assert town.token.balance_of(alice.address) == 800
    assert town.token.balance_of(bob.address) == 1_200


def test_an_unregistered_account_can_neither_receive_nor_send(town: Town) -> None:
    payer = town.resident(balance=1_000)
    stranger = outsider()
    unregistered = town.person()  # allowlisted on the node, unknown to the registry
    for to in (stranger.address, unregistered.address):
        reverts(
            partial(town.token.transfer, payer, to, 1),
            "CityTokenAccountNotActive",
            account=to,
        )
    town.token.approve(payer, unregistered.address, 10)
    # Pulling an allowance to itself: refused as a spender before it is refused as a recipient.
    reverts(
        lambda: transfer_from(town, unregistered, payer.address, unregistered.address, 1),
        "CityTokenSpenderNotActive",
        spender=unregistered.address,
        status="not registered",
    )
    # Sending is refused for not being active before the balance (zero) is even looked at.
    reverts(
        lambda: town.token.transfer(unregistered, payer.address, 0),
        "CityTokenAccountNotActive",
        account=unregistered.address,
    )
    assert town.token.balance_of(payer.address) == 1_000


SPENDER_STATES = ("active", "frozen", "retired", "unregistered")


def spender_in(town: Town, state: str) -> LocalAccount:
    """An allowlisted account (it can send transactions) whose registry status is ``state``."""
    if state == "unregistered":
        return town.person()
    spender = town.resident()
    if state == "frozen":
        town.registry.freeze(town.registrar, spender.address)
    elif state == "retired":
        town.registry.recover(town.registrar, spender.address, outsider().address)
    return spender


@pytest.mark.parametrize("state", SPENDER_STATES)
def test_only_an_active_spender_can_spend_an_allowance(town: Town, state: str) -> None:
    """The spender of a transferFrom must be active, as the owner and the recipient must: a frozen,
    retired or unregistered account moves nobody's tokens, whatever it was approved for. Approving
    one is allowed (an approval moves nothing); the check is made when the allowance is spent."""
    owner, payee = town.resident(balance=100), town.resident()
    spender = spender_in(town, state)
    receipt = town.token.approve(owner, spender.address, 60)
    assert only_event(receipt, town.token, "Approval") == {
        "owner": owner.address,
        "spender": spender.address,
        "value": 60,
    }
    pull = partial(transfer_from, town, spender, owner.address, payee.address, 60)
    if state == "active":
        receipt = pull()
        assert only_event(receipt, town.token, "Transfer") == {
            "from": owner.address,
            "to": payee.address,
            "value": 60,
        }
        assert town.token.balance_of(payee.address) == 60
        assert allowance(town, owner.address, spender.address) == 0
        return
    status = "not registered" if state == "unregistered" else state
    function = town.token.contract.functions.transferFrom(owner.address, payee.address, 60)
    for attempt in (pull, lambda: town.send_unchecked(spender, function)):  # simulated, mined
        error = reverts(
            attempt, "CityTokenSpenderNotActive", spender=spender.address, status=status
        )
        assert isinstance(error, AccountNotActiveError)
        assert f"is {status}" in error.message
    assert town.token.balance_of(owner.address) == 100
    assert town.token.balance_of(payee.address) == 0
    assert allowance(town, owner.address, spender.address) == 60


# -- redemption -----------------------------------------------------------------------------------


def test_redeem_burns_against_a_single_use_settlement_reference(town: Town) -> None:
    holder, other = town.resident(balance=5_000), town.resident(balance=5_000)
    ref = new_ref("set")
    before = supply(town)
    receipt = town.token.redeem(holder, 1_200, ref)
    assert only_event(receipt, town.token, "Transfer") == {
        "from": holder.address,
        "to": ZERO_ADDRESS,
        "value": 1_200,
    }
    assert only_event(receipt, town.token, "Redeemed") == {
        "account": holder.address,
        "amount": 1_200,
        "settlementRef": reference(ref),
    }
    assert town.token.balance_of(holder.address) == 3_800
    assert supply(town) == (before[0] - 1_200, before[1], before[2] + 1_200)
    assert town.token.settlement_ref_used(ref)

    after = supply(town)
    for who in (holder, other):
        error = reverts(
            partial(town.token.redeem, who, 1, ref),
            "CityTokenSettlementRefUsed",
            settlementRef=ref,
        )
        assert isinstance(error, ReferenceUsedError)
    reverts(lambda: town.token.redeem(holder, 0, new_ref()), "CityTokenZeroAmount")
    reverts(lambda: town.token.redeem(holder, 1, EMPTY_REF), "CityTokenEmptyReference")
    unused = new_ref("set")
    reverts(
        lambda: town.token.redeem(holder, 3_801, unused),
        "ERC20InsufficientBalance",
        sender=holder.address,
        balance=3_800,
        needed=3_801,
    )
    assert not town.token.settlement_ref_used(unused)  # the refused redemption used nothing
    assert supply(town) == after
    town.token.redeem(holder, 3_800, unused)
    assert town.token.balance_of(holder.address) == 0


# -- pause ----------------------------------------------------------------------------------------


def test_pause_stops_transfers_mints_redemptions_and_recoveries_until_unpaused(
    town: Town,
) -> None:
    alice, bob = town.resident(balance=1_000), town.resident(balance=1_000)
    spender, successor = town.resident(), town.person()
    town.token.approve(alice, spender.address, 100)
    receipt = town.token.pause(town.pauser)
    try:
        assert only_event(receipt, town.token, "Paused") == {"account": town.pauser.address}
        assert town.token.paused()
        before = supply(town)
        attempts = {
            "transfer": lambda: town.token.transfer(alice, bob.address, 1),
            "transferFrom": lambda: transfer_from(town, spender, alice.address, bob.address, 1),
            "mint": lambda: town.token.mint(town.treasury, alice.address, 1, new_ref()),
            "redeem": lambda: town.token.redeem(alice, 1, new_ref()),
            "recover": lambda: town.registry.recover(
                town.registrar, alice.address, successor.address
            ),
            "pause again": lambda: town.token.pause(town.pauser),
        }
        for what, attempt in attempts.items():
            error = reverts(attempt, "EnforcedPause")
            assert isinstance(error, TokenPausedError), what
        assert supply(town) == before
        assert town.token.balance_of(alice.address) == 1_000
        # The recovery reverted as a whole: the registration did not move either.
        assert town.registry.registration_of(alice.address).status is AccountStatus.ACTIVE
        assert town.registry.registration_of(successor.address).status is AccountStatus.NONE
        # Allowances are not balance changes: they still work while paused.
        town.token.approve(alice, bob.address, 5)
        permit = town.token.sign_permit(bob, alice.address, 7)
        town.token.permit(spender, permit)
        assert allowance(town, bob.address, alice.address) == 7
    finally:
        receipt = town.token.unpause(town.pauser)
    assert only_event(receipt, town.token, "Unpaused") == {"account": town.pauser.address}
    assert not town.token.paused()
    error = reverts(lambda: town.token.unpause(town.pauser), "ExpectedPause")
    assert isinstance(error, TokenError)
    town.token.transfer(alice, bob.address, 1)
    transfer_from(town, spender, alice.address, bob.address, 1)
    town.token.redeem(alice, 1, new_ref("set"))
    assert town.token.balance_of(bob.address) == 1_002


# -- recovery -------------------------------------------------------------------------------------


def test_recovery_moves_the_whole_balance_with_the_registration_in_one_transaction(
    town: Town,
) -> None:
    lost, other = town.resident(balance=7_500), town.resident(balance=10)
    successor = town.person()
    before = supply(town)
    receipt = town.registry.recover(town.registrar, lost.address, successor.address)
    assert only_event(receipt, town.registry, "AccountRecovered") == {
        "oldAccount": lost.address,
        "newAccount": successor.address,
        "balance": 7_500,
    }
    assert only_event(receipt, town.token, "BalanceRecovered") == {
        "from": lost.address,
        "to": successor.address,
        "amount": 7_500,
    }
    assert only_event(receipt, town.token, "Transfer") == {
        "from": lost.address,
        "to": successor.address,
        "value": 7_500,
    }
    assert town.token.balance_of(lost.address) == 0
    assert town.token.balance_of(successor.address) == 7_500
    assert supply(town) == before  # a recovery neither mints nor burns

    # The retired account can never receive again; the successor pays as the old one did.
    for attempt in (
        lambda: town.token.transfer(other, lost.address, 1),
        lambda: town.token.mint(town.treasury, lost.address, 1, new_ref()),
    ):
        reverts(attempt, "CityTokenAccountNotActive", account=lost.address)
    reverts(
        lambda: town.token.transfer(lost, other.address, 0),
        "CityTokenAccountNotActive",
        account=lost.address,
    )
    town.token.transfer(successor, other.address, 500)
    assert town.token.balance_of(other.address) == 510


def test_recover_balance_moves_only_a_retired_balance_to_an_active_account(town: Town) -> None:
    """The token side of a recovery, called as the registry (the RECOVERY role holder) would."""
    active, other = town.resident(balance=50), town.resident()
    retired, successor = town.resident(), town.person()
    town.registry.recover(town.registrar, retired.address, successor.address)
    as_registry = town.registry.address

    def recover_balance(old: str, new: str) -> object:
        function = town.token.contract.functions.recoverBalance(old, new)
        return town.chain.call(function, sender=as_registry)

    reverts(
        lambda: recover_balance(active.address, other.address),
        "CityTokenAccountNotRetired",
        account=active.address,
    )
    stranger = outsider().address
    reverts(
        lambda: recover_balance(retired.address, stranger),
        "CityTokenAccountNotActive",
        account=stranger,
    )
    assert recover_balance(retired.address, successor.address) == 0  # allowed, nothing left


# -- permits --------------------------------------------------------------------------------------


def test_a_relayer_submits_a_residents_signed_permit(town: Town) -> None:
    owner, spender = town.resident(balance=1_000), town.resident()
    relayer = town.person()  # pays nothing, needs no registration, holds no role
    nonces = town.token.contract.functions.nonces(owner.address)
    nonce = town.chain.call(nonces)
    permit = town.token.sign_permit(owner, spender.address, 300)
    receipt = town.token.permit(relayer, permit)
    assert only_event(receipt, town.token, "Approval") == {
        "owner": owner.address,
        "spender": spender.address,
        "value": 300,
    }
    assert allowance(town, owner.address, spender.address) == 300
    assert town.chain.call(nonces) == nonce + 1
    transfer_from(town, spender, owner.address, spender.address, 300)
    assert town.token.balance_of(spender.address) == 300
    assert town.token.balance_of(owner.address) == 700

    # The signature was for that nonce: replaying it recovers some other signer.
    error = reverts_invalid_signer(lambda: town.token.permit(relayer, permit), owner.address)
    assert error.error_args["signer"] != owner.address


def reverts_invalid_signer(action: Callable[[], object], owner: str) -> ContractRevertError:
    with pytest.raises(ContractRevertError) as caught:
        action()
    assert caught.value.error == "ERC2612InvalidSigner", caught.value.message
    assert caught.value.error_args["owner"] == owner
    return caught.value


def test_expired_and_forged_permits_are_rejected(town: Town) -> None:
    owner, spender, mallory = town.resident(balance=100), town.resident(), town.person()
    relayer = town.person()

    expired = town.token.sign_permit(owner, spender.address, 50, valid_for=-60)
    reverts(
        lambda: town.token.permit(relayer, expired),
        "ERC2612ExpiredSignature",
        deadline=expired.deadline,
    )
    # Mallory signs a permit and claims it is the owner's.
    forged = dataclasses.replace(
        town.token.sign_permit(mallory, spender.address, 50), owner=owner.address
    )
    error = reverts_invalid_signer(lambda: town.token.permit(relayer, forged), owner.address)
    assert error.error_args["signer"] not in (owner.address, mallory.address)
    # The owner's own permit with a raised value is no longer the owner's signature.
    genuine = town.token.sign_permit(owner, spender.address, 50)
    reverts_invalid_signer(
        lambda: town.token.permit(relayer, dataclasses.replace(genuine, value=5_000)),
        owner.address,
    )
    assert allowance(town, owner.address, spender.address) == 0
    town.token.permit(relayer, genuine)  # still valid: the failures used no nonce
    assert allowance(town, owner.address, spender.address) == 50


# -- the audit trail on a long chain --------------------------------------------------------------


def test_the_supply_audit_trail_reads_a_chain_longer_than_the_nodes_log_range(
    node_factory: Callable[..., NodeProcess], accounts: list[LocalAccount], tmp_path: Path
) -> None:
    write_genesis(tmp_path / "genesis.json", accounts)
    node = node_factory(
        tmp_path / "genesis.json", "--block-period", "0", "--rpc-max-log-range", "20"
    )
    town = Town(deploy_test_city(node.url, accounts, tmp_path / "short-range.json"))
    assert town.chain.block_number() > 20  # the deployment alone is longer than one query
    resident = town.resident()
    town.token.mint(town.treasury, resident.address, 5, "deposit-after-the-window")
    changes = town.token.supply_changes()
    assert [(c.kind, c.amount, c.reference) for c in changes] == [
        ("mint", 5, "deposit-after-the-window")
    ]


# -- the whole module's supply --------------------------------------------------------------------


def test_supply_equals_balances_equals_minted_minus_burned_and_every_change_has_a_reference(
    town: Town,
) -> None:
    """Runs last in the module: audits everything the tests above did to this city's token."""
    total, minted, burned = supply(town)
    holders = {e["args"]["to"] for e in town.token.events("Transfer")} - {ZERO_ADDRESS}
    assert holders, "the tests above moved no tokens"
    assert sum(town.token.balance_of(h) for h in holders) == total == minted - burned
    changes = town.token.supply_changes()
    mints = [c for c in changes if c.kind == "mint"]
    redemptions = [c for c in changes if c.kind == "redeem"]
    assert sum(c.amount for c in mints) == minted
    assert sum(c.amount for c in redemptions) == burned
    for records in (mints, redemptions):
        repeated = [ref for ref, n in Counter(c.reference for c in records).items() if n > 1]
        assert not repeated, f"references used twice: {repeated}"
    assert all(town.token.deposit_ref_used(c.reference) for c in mints)
    assert all(town.token.settlement_ref_used(c.reference) for c in redemptions)
