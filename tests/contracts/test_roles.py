"""The role matrix: every state-changing function of the city's contracts, called by every role
holder and by outsiders, on the embedded node.

For each function the matrix states who may call it (``Access``) and builds a call that would
succeed for an authorized caller, so the only thing wrong with an unauthorized cell is its caller.
Unauthorized calls must revert with the exact custom error OpenZeppelin 5.7 raises for that kind
of access rule, both when simulated (``Chain.transact`` refuses before sending) and when mined
anyway (a fixed-gas transaction that lands in a block and fails); authorized calls must succeed
and emit their event.

The cells are generated from the ABIs: a new non-view function without a matrix entry fails its
cells, and the matrix's restricted functions must be exactly ``ledger.domains.FUNCTION_ROLES`` with
the same roles, which must be exactly what the deployed AccessManager enforces.

Access rules, and the error a caller outside them gets (OpenZeppelin 5.7):

* ``Restricted(role)``: ``restricted`` functions of AccessManaged targets.
  No role: ``AccessManagedUnauthorized(caller)``. The role with an execution delay (TREASURY_LARGE):
  ``AccessManagerNotScheduled(operationId)`` - the target tries to consume a scheduled operation
  (AccessManaged never raises ``AccessManagedRequiredDelay``, although IAccessManaged declares it).
* ``ManagerAdmin``: the AccessManager's own admin functions.
  ``AccessManagerUnauthorizedAccount(msgsender, roleId)``, roleId 0 (ADMIN) for all of ours.
* ``AuthorityOnly``: ``setAuthority`` of a target, callable only by its authority contract (the
  admin reaches it through ``AccessManager.updateAuthority``).
  ``AccessManagedUnauthorized(caller)``.
* ``Delayed(role)``: ``schedule``/``execute`` of a call needing a delayed role.
  ``AccessManagerUnauthorizedCall(caller, target, selector)``.
* ``Canceller(role)``: ``cancel`` of such a call: the scheduler, an admin or the role's guardian.
  ``AccessManagerUnauthorizedCancel(msgsender, caller, target, selector)``.
* ``Public``: anyone; the cell states each caller's business outcome (never an access error).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import function_abi_to_4byte_selector, keccak
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from cityledger.testing.city import LARGE_MINT_DELAY, TestCity
from ledger.contracts.base import ContractWrapper, city_artifact
from ledger.contracts.elections import ElectionConfig, ElectionKind
from ledger.domains import FUNCTION_ROLES
from ledger.exceptions import TransactionFailedError
from ledger.payments.orders import Order
from ledger.roles import Role
from ledger.types import AccountKind, reference
from ledger.voting.eligibility import MerkleTree
from tests.contracts.helpers import (
    DISTRICT,
    Town,
    credential,
    events,
    new_ref,
    outsider,
    reverts,
)

ROOT = Path(__file__).resolve().parents[2]

CONTRACTS = (
    "CityToken",
    "ResidentRegistry",
    "CityAuthority",
    "PaymentRouter",
    "Elections",
    "RewardsPool",
)

CALLERS = (
    "admin",
    "treasury",
    "registrar",
    "pauser",
    "merchant_admin",
    "payment_operator",
    "election_admin",
    "rewards_admin",
    "deployer",  # deployed the city, then renounced ADMIN
    "resident",  # registered and active, no role
    "merchant",  # registered and active as a merchant, no role
    "stranger",  # allowlisted on the node, unregistered, no role
    "frozen",  # a registered resident with tokens, frozen by the registrar, no role
    "retired",  # a registered resident whose key was recovered to another address, no role
    "registry",  # the ResidentRegistry contract: holds RECOVERY; calls are simulated (eth_call)
)

HOLDINGS: dict[str, dict[Role, int]] = {
    "admin": {Role.ADMIN: 0},
    "treasury": {Role.TREASURY: 0, Role.TREASURY_LARGE: LARGE_MINT_DELAY},
    "registrar": {Role.REGISTRAR: 0},
    "pauser": {Role.PAUSER: 0},
    "merchant_admin": {Role.MERCHANT_ADMIN: 0},
    "payment_operator": {Role.PAYMENT_OPERATOR: 0},
    "election_admin": {Role.ELECTION_ADMIN: 0},
    "rewards_admin": {Role.REWARDS_ADMIN: 0},
    "deployer": {},
    "resident": {},
    "merchant": {},
    "stranger": {},
    "frozen": {},
    "retired": {},
    "registry": {Role.RECOVERY: 0},
}
"""Role -> execution delay of every caller: what the test deployment grants, and nothing more."""


# -- outcomes and access rules --------------------------------------------------------------------


@dataclass(frozen=True)
class Ok:
    """The call succeeds (and, if sent, emits ``event``: (contract, event name))."""

    event: tuple[str, str] | None = None


@dataclass(frozen=True)
class Err:
    """The call reverts with this custom error and exactly these arguments."""

    error: str
    args: Mapping[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Fails:
    """The call reverts without any error data."""


Outcome = Ok | Err | Fails


@dataclass(frozen=True)
class Restricted:
    role: Role


@dataclass(frozen=True)
class ManagerAdmin:
    pass


@dataclass(frozen=True)
class AuthorityOnly:
    pass


@dataclass(frozen=True)
class Delayed:
    role: Role


@dataclass(frozen=True)
class Canceller:
    role: Role


@dataclass(frozen=True)
class Public:
    pass


Access = Restricted | ManagerAdmin | AuthorityOnly | Delayed | Canceller | Public


@dataclass(frozen=True)
class Caller:
    name: str
    address: str
    account: LocalAccount | None
    """None for a contract: its calls can only be simulated."""


@dataclass
class Call:
    function: ContractFunction
    authorized: Outcome = field(default_factory=Ok)
    """What a caller the access rule lets through gets."""
    public: Callable[[Caller], Outcome] | None = None
    """For public functions: each caller's outcome."""
    scheduler: str | None = None
    """For ``cancel``: who scheduled the operation."""
    cleanup: Callable[[], object] | None = None


ORDER_AMOUNT = 100
"""Each cell's invoice: at the default 1 % fee, ₩99 to the merchant and a ₩1 point."""
ZERO_WORD = bytes(32)
BLOB = b"\x01\x01trustee post"
"""A trustee's post (the contract only refuses an empty one)."""
ELECTION_KEY = b"\x02" + bytes(range(32))
LONG = 30 * 86_400
"""The scene's standing elections stay open this long (the module runs for hours of chain time)."""


# -- the scene: a city, its callers, and helpers that prepare a valid call ------------------------


@dataclass
class Scene:
    town: Town
    callers: dict[str, Caller]
    owner: LocalAccount
    """A funded resident who approves and signs permits for every caller."""
    payee: str
    """A registered account that receives in transfer cells."""
    dummy_target: str
    """An address the AccessManager cells configure (no contract: harmless)."""
    shop: LocalAccount
    """A funded merchant (not a caller) whose invoices and redemptions the router cells use."""
    voters: MerkleTree
    """Who may vote in the scene's elections: the resident and the owner."""
    poll: int
    """A public poll open for the whole module."""
    ballot_box: int
    """A secret ballot open for the whole module (its one trustee is the resident)."""
    programme: int
    """A funded rewards programme whose distributor is the resident."""

    @property
    def token(self) -> Any:
        return self.town.token.contract.functions

    @property
    def registry(self) -> Any:
        return self.town.registry.contract.functions

    @property
    def authority(self) -> Any:
        return self.town.authority.contract.functions

    @property
    def router(self) -> Any:
        return self.town.payments.contract.functions

    @property
    def elections(self) -> Any:
        return self.town.test_city.city.elections.contract.functions

    @property
    def rewards(self) -> Any:
        return self.town.test_city.city.rewards.contract.functions

    @property
    def officer(self) -> LocalAccount:
        account = self.callers["election_admin"].account
        assert account is not None
        return account

    @property
    def trustee(self) -> LocalAccount:
        account = self.callers["resident"].account
        assert account is not None
        return account

    def election_config(
        self, kind: ElectionKind = ElectionKind.PUBLIC_POLL, lasts: int = LONG
    ) -> ElectionConfig:
        now = self.town.latest_timestamp()
        return ElectionConfig(
            kind=kind,
            option_count=2,
            min_selections=1,
            max_selections=1,
            threshold=1 if kind is ElectionKind.SECRET_BALLOT else 0,
            opens_at=now,
            closes_at=now + lasts,
            quorum=0,
            eligible_count=len(self.voters),
            eligibility_root=self.voters.root,
            eligibility_list_hash=keccak(b"list"),
            manifest_hash=keccak(b"manifest"),
            reward_amount=0,
        )

    def new_election(
        self,
        kind: ElectionKind = ElectionKind.PUBLIC_POLL,
        *,
        until: str = "setup",
        lasts: int = LONG,
    ) -> int:
        """An election taken to ``until``: setup, committed, shared, open or closed (a closed
        one lasts a few seconds)."""
        elections = self.town.test_city.city.elections
        secret = kind is ElectionKind.SECRET_BALLOT
        if until == "closed":
            lasts = 8  # time for the ceremony's five blocks before it opens
        trustees = [self.trustee.address] if secret else []
        config = self.election_config(kind, lasts)
        election_id = elections.create(self.officer, config, trustees)
        if secret and until != "setup":
            elections.post_commitments(self.trustee, election_id, BLOB)
            if until != "committed":
                elections.post_shares(self.trustee, election_id, BLOB)
                if until != "shared":
                    elections.set_election_key(self.officer, election_id, ELECTION_KEY)
        if until in ("open", "closed"):
            elections.open(self.officer, election_id)
        if until == "closed":
            self.town.advance_to(config.closes_at)
            elections.close(self.town.deployer, election_id)
        return election_id

    def order(self, merchant: str, amount: int = ORDER_AMOUNT) -> Order:
        """A fresh invoice of ``merchant``, payable for a day of chain time."""
        return Order.new(merchant, amount, self.town.latest_timestamp() + 86_400)

    def fund(self, account: LocalAccount, amount: int = ORDER_AMOUNT) -> None:
        """Mint ``amount`` to an active account and approve the router for all of it."""
        self.town.token.mint(self.town.treasury, account.address, amount, new_ref("dep"))
        self.town.token.approve(account, self.town.payments.address, amount)

    def registered(self) -> str:
        account = outsider().address
        self.town.register(account)
        return account

    def retired_pair(self) -> tuple[str, str]:
        old, new = self.registered(), outsider().address
        self.town.registry.recover(self.town.registrar, old, new)
        return old, new

    def large_mint(self) -> bytes:
        limit = self.town.token.mint_limit()
        return self.town.token.calldata(
            "mintAboveLimit", self.payee, limit + 1, reference(new_ref("big"))
        )

    def schedule_large_mint(self) -> bytes:
        data = self.large_mint()
        self.town.authority.schedule(self.town.treasury, self.town.token.address, data)
        return data

    def ensure_unpaused(self) -> None:
        if self.town.token.paused():
            self.town.token.unpause(self.town.pauser)

    def wrapper(self, name: str) -> ContractWrapper:
        wrappers: dict[str, ContractWrapper] = {
            "token": self.town.token,
            "registry": self.town.registry,
            "authority": self.town.authority,
            "payments": self.town.payments,
            "elections": self.town.test_city.city.elections,
            "rewards": self.town.test_city.city.rewards,
        }
        return wrappers[name]


ACTIVE = ("resident", "merchant")
"""The callers that are active accounts of the registry."""
STATUS = {"frozen": "frozen", "retired": "retired"}
"""The registry status of the callers that are neither active nor unregistered."""


def only_the_resident(success: Outcome) -> Callable[[Caller], Outcome]:
    """A token movement of the caller's own tokens: only an active account may make it."""

    def outcome(caller: Caller) -> Outcome:
        if caller.name in ACTIVE:
            return success
        return Err("CityTokenAccountNotActive", {"account": caller.address})

    return outcome


def only(
    name: str, success: Outcome, refusal: Callable[[Caller], Err]
) -> Callable[[Caller], Outcome]:
    """Only the caller ``name`` succeeds (a business rule, not a role); others get ``refusal``."""
    return lambda caller: success if caller.name == name else refusal(caller)


def everyone(success: Outcome) -> Callable[[Caller], Outcome]:
    return lambda _caller: success


# -- CityToken ------------------------------------------------------------------------------------


def token_mint(s: Scene, c: Caller) -> Call:
    return Call(s.token.mint(s.payee, 1, reference(new_ref("dep"))), Ok(("token", "Minted")))


def token_mint_above_limit(s: Scene, c: Caller) -> Call:
    limit = s.town.token.mint_limit()
    return Call(
        s.token.mintAboveLimit(s.payee, limit + 1, reference(new_ref("big"))),
        Ok(("token", "Minted")),
    )


def token_set_mint_limit(s: Scene, c: Caller) -> Call:
    return Call(s.token.setMintLimit(s.town.token.mint_limit()), Ok(("token", "MintLimitSet")))


def token_pause(s: Scene, c: Caller) -> Call:
    return Call(s.token.pause(), Ok(("token", "Paused")), cleanup=s.ensure_unpaused)


def token_unpause(s: Scene, c: Caller) -> Call:
    s.town.token.pause(s.town.pauser)  # a valid unpause needs a paused token
    return Call(s.token.unpause(), Ok(("token", "Unpaused")), cleanup=s.ensure_unpaused)


def token_recover_balance(s: Scene, c: Caller) -> Call:
    old, new = s.retired_pair()
    return Call(s.token.recoverBalance(old, new), Ok(("token", "BalanceRecovered")))


def token_set_authority(s: Scene, c: Caller) -> Call:
    return Call(s.token.setAuthority(s.town.authority.address))


def token_transfer(s: Scene, c: Caller) -> Call:
    return Call(s.token.transfer(s.payee, 1), public=only_the_resident(Ok(("token", "Transfer"))))


def token_approve(s: Scene, c: Caller) -> Call:
    return Call(s.token.approve(s.payee, 1), public=everyone(Ok(("token", "Approval"))))


def only_an_active_spender(success: Outcome) -> Callable[[Caller], Outcome]:
    """Spending an allowance: only an active account may, whoever approved it. The error names
    the spender's status: frozen, retired, or not registered (staff, the deployer, the stranger
    and the registry contract are no registry accounts)."""

    def outcome(caller: Caller) -> Outcome:
        if caller.name in ACTIVE:
            return success
        status = STATUS.get(caller.name, "not registered")
        return Err("CityTokenSpenderNotActive", {"spender": caller.address, "status": status})

    return outcome


def token_transfer_from(s: Scene, c: Caller) -> Call:
    s.town.token.approve(s.owner, c.address, 1)  # approving anyone is allowed: it moves nothing
    return Call(
        s.token.transferFrom(s.owner.address, s.payee, 1),
        public=only_an_active_spender(Ok(("token", "Transfer"))),
    )


def token_permit(s: Scene, c: Caller) -> Call:
    # A day of validity: the node's clock runs ahead of the wall clock (one second per block)
    # over the ~1,000 blocks of this module, and sign_permit counts from the wall clock.
    p = s.town.token.sign_permit(s.owner, s.payee, 1, valid_for=86_400)
    return Call(
        s.token.permit(p.owner, p.spender, p.value, p.deadline, p.v, p.r, p.s),
        public=everyone(Ok(("token", "Approval"))),  # any relayer may submit it
    )


def token_redeem(s: Scene, c: Caller) -> Call:
    return Call(
        s.token.redeem(1, reference(new_ref("set"))),
        public=only_the_resident(Ok(("token", "Redeemed"))),
    )


# -- ResidentRegistry -----------------------------------------------------------------------------


def registry_register(s: Scene, c: Caller) -> Call:
    account = outsider().address
    return Call(
        s.registry.register(account, AccountKind.RESIDENT, DISTRICT, credential(account)),
        Ok(("registry", "AccountRegistered")),
    )


def registry_update(s: Scene, c: Caller) -> Call:
    account = s.registered()
    return Call(
        s.registry.update(account, AccountKind.MERCHANT, 7, credential("update")),
        Ok(("registry", "AccountUpdated")),
    )


def registry_freeze(s: Scene, c: Caller) -> Call:
    return Call(s.registry.freeze(s.registered()), Ok(("registry", "AccountFrozen")))


def registry_unfreeze(s: Scene, c: Caller) -> Call:
    account = s.registered()
    s.town.registry.freeze(s.town.registrar, account)
    return Call(s.registry.unfreeze(account), Ok(("registry", "AccountUnfrozen")))


def registry_recover(s: Scene, c: Caller) -> Call:
    return Call(
        s.registry.recover(s.registered(), outsider().address),
        Ok(("registry", "AccountRecovered")),
    )


def registry_set_token(s: Scene, c: Caller) -> Call:
    # The city's registry is linked at deployment and a link is set once: the admin passes the
    # access check and is refused for that reason (the first link is tested in test_registry).
    return Call(s.registry.setToken(s.town.token.address), Err("ResidentRegistryTokenAlreadySet"))


def registry_set_authority(s: Scene, c: Caller) -> Call:
    return Call(s.registry.setAuthority(s.town.authority.address))


# -- CityAuthority (OpenZeppelin AccessManager) ---------------------------------------------------

SPARE = 1_000
"""A role id ``ledger.roles.Role`` does not define (nor reserve) and no function is mapped to:
safe to label, grant and reconfigure in these cells."""


def grant_spare(s: Scene, account: str) -> None:
    s.town.chain.transact(s.town.admin, s.authority.grantRole(SPARE, account, 0))


def authority_label_role(s: Scene, c: Caller) -> Call:
    return Call(s.authority.labelRole(SPARE, "spare"), Ok(("authority", "RoleLabel")))


def authority_grant_role(s: Scene, c: Caller) -> Call:
    return Call(
        s.authority.grantRole(SPARE, outsider().address, 0), Ok(("authority", "RoleGranted"))
    )


def authority_revoke_role(s: Scene, c: Caller) -> Call:
    member = outsider().address
    grant_spare(s, member)
    return Call(s.authority.revokeRole(SPARE, member), Ok(("authority", "RoleRevoked")))


def authority_renounce_role(s: Scene, c: Caller) -> Call:
    if c.account is not None:
        grant_spare(s, c.address)
    return Call(
        s.authority.renounceRole(SPARE, c.address),
        # Anyone may give up their own role; a simulated renounce of a role not held is a no-op.
        public=lambda caller: Ok(("authority", "RoleRevoked")) if caller.account else Ok(),
    )


def authority_set_role_admin(s: Scene, c: Caller) -> Call:
    return Call(s.authority.setRoleAdmin(SPARE, 0), Ok(("authority", "RoleAdminChanged")))


def authority_set_role_guardian(s: Scene, c: Caller) -> Call:
    return Call(s.authority.setRoleGuardian(SPARE, 0), Ok(("authority", "RoleGuardianChanged")))


def authority_set_grant_delay(s: Scene, c: Caller) -> Call:
    return Call(s.authority.setGrantDelay(SPARE, 0), Ok(("authority", "RoleGrantDelayChanged")))


def authority_set_target_admin_delay(s: Scene, c: Caller) -> Call:
    return Call(
        s.authority.setTargetAdminDelay(s.dummy_target, 0),
        Ok(("authority", "TargetAdminDelayUpdated")),
    )


def authority_set_target_closed(s: Scene, c: Caller) -> Call:
    return Call(
        s.authority.setTargetClosed(s.dummy_target, False), Ok(("authority", "TargetClosed"))
    )


def authority_set_target_function_role(s: Scene, c: Caller) -> Call:
    return Call(
        s.authority.setTargetFunctionRole(s.dummy_target, [b"\x12\x34\x56\x78"], SPARE),
        Ok(("authority", "TargetFunctionRoleUpdated")),
    )


def authority_update_authority(s: Scene, c: Caller) -> Call:
    # Re-points the token at the same authority: the admin's only way to reach setAuthority.
    return Call(
        s.authority.updateAuthority(s.town.token.address, s.town.authority.address),
        Ok(("token", "AuthorityUpdated")),
    )


def authority_multicall(s: Scene, c: Caller) -> Call:
    # multicall itself is public, but it delegatecalls the manager with the same msg.sender: an
    # admin-only call inside it is refused exactly as if called directly.
    inner = bytes.fromhex(s.authority.labelRole(SPARE, "spare")._encode_transaction_data()[2:])
    return Call(s.authority.multicall([inner]), Ok(("authority", "RoleLabel")))


def authority_schedule(s: Scene, c: Caller) -> Call:
    return Call(
        s.authority.schedule(s.town.token.address, s.large_mint(), 0),
        Ok(("authority", "OperationScheduled")),
    )


def authority_execute(s: Scene, c: Caller) -> Call:
    data = s.schedule_large_mint()  # scheduled by the treasury; only it may execute it
    if c.name == "treasury":
        treasury, token = s.town.treasury.address, s.town.token.address
        s.town.advance_to(s.town.authority.scheduled_at(treasury, token, data))
    return Call(s.authority.execute(s.town.token.address, data), Ok(("token", "Minted")))


def authority_cancel(s: Scene, c: Caller) -> Call:
    data = s.schedule_large_mint()
    treasury = s.town.treasury.address
    return Call(
        s.authority.cancel(treasury, s.town.token.address, data),
        Ok(("authority", "OperationCanceled")),
        scheduler=treasury,
    )


def authority_consume_scheduled_op(s: Scene, c: Caller) -> Call:
    data = s.schedule_large_mint()

    def outcome(caller: Caller) -> Outcome:
        if caller.account is not None:
            # The manager asks msg.sender (an account without code) isConsumingScheduledOp():
            # the empty answer cannot be decoded, so the call reverts without data.
            return Fails()
        return Err("AccessManagerUnauthorizedConsume", {"target": caller.address})

    return Call(s.authority.consumeScheduledOp(s.town.treasury.address, data), public=outcome)


# -- PaymentRouter --------------------------------------------------------------------------------


def router_pay(s: Scene, c: Caller) -> Call:
    order = s.order(s.shop.address)
    if c.account is not None:
        if c.name in ACTIVE:
            s.fund(c.account)
        else:  # approving needs no registration: the transfer is what refuses them
            s.town.token.approve(c.account, s.town.payments.address, ORDER_AMOUNT)

    def outcome(caller: Caller) -> Outcome:
        if caller.name in ACTIVE:
            return Ok(("payments", "PaymentSettled"))
        if caller.account is None:  # the registry contract approved nothing
            return Err(
                "ERC20InsufficientAllowance",
                {"spender": s.town.payments.address, "allowance": 0, "needed": 99},
            )
        return Err("CityTokenAccountNotActive", {"account": caller.address})

    return Call(s.router.pay(order.as_tuple()), public=outcome)


def router_pay_for(s: Scene, c: Caller) -> Call:
    order = s.order(s.shop.address)
    s.fund(s.owner)
    deadline = s.town.latest_timestamp() + 86_400
    signature = s.town.payments.sign_pay(s.owner, order.ref, deadline)
    return Call(
        s.router.payFor(
            s.owner.address, order.as_tuple(), deadline, signature, 0, 0, ZERO_WORD, ZERO_WORD
        ),
        public=everyone(Ok(("payments", "PaymentSettled"))),  # any relayer may submit it
    )


def router_cancel_invoice(s: Scene, c: Caller) -> Call:
    merchant = s.callers["merchant"].address
    return Call(
        s.router.cancelInvoice(s.order(merchant).as_tuple()),
        public=only(
            "merchant",
            Ok(("payments", "InvoiceCancelled")),
            lambda caller: Err(
                "PaymentRouterNotInvoiceMerchant", {"caller": caller.address, "merchant": merchant}
            ),
        ),
    )


def router_cancel_invoice_for(s: Scene, c: Caller) -> Call:
    order = s.order(s.shop.address)
    return Call(s.router.cancelInvoiceFor(order.as_tuple()), Ok(("payments", "InvoiceCancelled")))


def router_refund(s: Scene, c: Caller) -> Call:
    merchant = s.callers["merchant"]
    assert merchant.account is not None
    order = s.order(merchant.address)
    s.fund(s.owner)
    s.town.payments.pay(s.owner, order)
    s.town.token.approve(merchant.account, s.town.payments.address, 10)  # 10 of 100: no fee back
    return Call(
        s.router.refund(order.ref, 10),
        public=only(
            "merchant",
            Ok(("payments", "PaymentRefunded")),
            lambda caller: Err(
                "PaymentRouterNotInvoiceMerchant",
                {"caller": caller.address, "merchant": merchant.address},
            ),
        ),
    )


def router_request_redemption(s: Scene, c: Caller) -> Call:
    if c.account is not None:
        s.town.token.approve(c.account, s.town.payments.address, 1)
    return Call(
        s.router.requestRedemption(1),
        public=only(
            "merchant",
            Ok(("payments", "RedemptionRequested")),
            lambda caller: Err("PaymentRouterNotMerchant", {"merchant": caller.address}),
        ),
    )


def router_confirm_redemption(s: Scene, c: Caller) -> Call:
    redemption = s.town.payments.request_redemption(s.shop, 1)
    return Call(
        s.router.confirmRedemption(redemption, reference(new_ref("set"))),
        Ok(("payments", "RedemptionConfirmed")),
    )


def router_reject_redemption(s: Scene, c: Caller) -> Call:
    redemption = s.town.payments.request_redemption(s.shop, 1)
    return Call(
        s.router.rejectRedemption(redemption, reference("bank-rejected")),
        Ok(("payments", "RedemptionRejected")),
    )


def router_withdraw_city_fees(s: Scene, c: Caller) -> Call:
    return Call(s.router.withdrawCityFees(s.payee, 1), Ok(("payments", "CityFeesWithdrawn")))


def router_set_fee_schedule(s: Scene, c: Caller) -> Call:
    # The defaults again: the other cells' arithmetic must not change.
    return Call(s.router.setFeeSchedule(100, 10_000), Ok(("payments", "FeeScheduleSet")))


def router_set_category_fee(s: Scene, c: Caller) -> Call:
    return Call(s.router.setCategoryFee(7, 150), Ok(("payments", "CategoryFeeSet")))


def router_set_merchant_category(s: Scene, c: Caller) -> Call:
    return Call(
        s.router.setMerchantCategory(outsider().address, 7),
        Ok(("payments", "MerchantCategorySet")),
    )


def router_set_merchant_fee(s: Scene, c: Caller) -> Call:
    return Call(
        s.router.setMerchantFee(outsider().address, 50, True), Ok(("payments", "MerchantFeeSet"))
    )


def router_set_authority(s: Scene, c: Caller) -> Call:
    return Call(s.router.setAuthority(s.town.authority.address))


# -- Elections ------------------------------------------------------------------------------------


def _not_trustee(election_id: int) -> Callable[[Caller], Err]:
    return lambda caller: Err(
        "ElectionsNotTrustee", {"electionId": election_id, "account": caller.address}
    )


def _not_eligible(election_id: int) -> Callable[[Caller], Err]:
    return lambda caller: Err(
        "ElectionsNotEligible", {"electionId": election_id, "voter": caller.address}
    )


def elections_create(s: Scene, c: Caller) -> Call:
    config = s.election_config()
    return Call(s.elections.create(config.as_tuple(), []), Ok(("elections", "ElectionCreated")))


def elections_post_commitments(s: Scene, c: Caller) -> Call:
    election_id = s.new_election(ElectionKind.SECRET_BALLOT)
    return Call(
        s.elections.postCommitments(election_id, BLOB),
        public=only("resident", Ok(("elections", "TrusteeCommitted")), _not_trustee(election_id)),
    )


def elections_post_shares(s: Scene, c: Caller) -> Call:
    election_id = s.new_election(ElectionKind.SECRET_BALLOT, until="committed")
    return Call(
        s.elections.postShares(election_id, BLOB),
        public=only(
            "resident", Ok(("elections", "TrusteeSharesPosted")), _not_trustee(election_id)
        ),
    )


def elections_set_election_key(s: Scene, c: Caller) -> Call:
    election_id = s.new_election(ElectionKind.SECRET_BALLOT, until="shared")
    return Call(
        s.elections.setElectionKey(election_id, ELECTION_KEY),
        Ok(("elections", "ElectionKeySet")),
    )


def elections_open(s: Scene, c: Caller) -> Call:
    election_id = s.new_election()
    return Call(s.elections.open(election_id), Ok(("elections", "ElectionOpened")))


def elections_cast_ballot(s: Scene, c: Caller) -> Call:
    ballot = bytes([1, 2]) + bytes(2 * 194 + 64)
    return Call(
        s.elections.castBallot(s.ballot_box, ballot, s.voters.proof(c.address))
        if c.address in s.voters
        else s.elections.castBallot(s.ballot_box, ballot, []),
        public=only("resident", Ok(("elections", "BallotCast")), _not_eligible(s.ballot_box)),
    )


def elections_cast_ballot_for(s: Scene, c: Caller) -> Call:
    ballot = bytes([1, 2]) + bytes(2 * 194 + 64)
    elections = s.town.test_city.city.elections
    deadline = s.town.latest_timestamp() + 86_400
    signature = elections.sign_ballot(s.owner, s.ballot_box, ballot, deadline)
    proof = s.voters.proof(s.owner.address)
    return Call(
        s.elections.castBallotFor(
            s.owner.address, s.ballot_box, ballot, proof, deadline, signature
        ),
        public=everyone(Ok(("elections", "BallotCast"))),  # any relayer may submit it
    )


def elections_cast_vote(s: Scene, c: Caller) -> Call:
    proof = s.voters.proof(c.address) if c.address in s.voters else []
    return Call(
        s.elections.castVote(s.poll, 1, proof),
        public=only("resident", Ok(("elections", "VoteCast")), _not_eligible(s.poll)),
    )


def elections_cast_vote_for(s: Scene, c: Caller) -> Call:
    elections = s.town.test_city.city.elections
    deadline = s.town.latest_timestamp() + 86_400
    signature = elections.sign_vote(s.owner, s.poll, 2, deadline)
    proof = s.voters.proof(s.owner.address)
    return Call(
        s.elections.castVoteFor(s.owner.address, s.poll, 2, proof, deadline, signature),
        public=everyone(Ok(("elections", "VoteCast"))),
    )


def elections_close(s: Scene, c: Caller) -> Call:
    elections = s.town.test_city.city.elections
    election_id = s.new_election(until="open", lasts=3)
    s.town.advance_to(elections.election(election_id).config.closes_at)
    return Call(
        s.elections.close(election_id), public=everyone(Ok(("elections", "ElectionClosed")))
    )


def elections_post_decryption(s: Scene, c: Caller) -> Call:
    election_id = s.new_election(ElectionKind.SECRET_BALLOT, until="closed")
    return Call(
        s.elections.postDecryption(election_id, BLOB),
        public=only("resident", Ok(("elections", "DecryptionPosted")), _not_trustee(election_id)),
    )


def elections_publish_result(s: Scene, c: Caller) -> Call:
    election_id = s.new_election(until="closed")
    return Call(
        s.elections.publishResult(election_id, [0, 0], 0, ZERO_WORD),
        Ok(("elections", "ResultPublished")),
    )


def elections_set_authority(s: Scene, c: Caller) -> Call:
    return Call(s.elections.setAuthority(s.town.authority.address))


# -- RewardsPool ----------------------------------------------------------------------------------


def _evidence() -> bytes:
    return keccak(text=f"role matrix {uuid.uuid4()}")


def rewards_create_programme(s: Scene, c: Caller) -> Call:
    name = reference(f"matrix-{uuid.uuid4().hex[:12]}")
    return Call(s.rewards.createProgramme(name, 100, 86_400), Ok(("rewards", "ProgrammeCreated")))


def rewards_set_programme_active(s: Scene, c: Caller) -> Call:
    return Call(
        s.rewards.setProgrammeActive(s.programme, True), Ok(("rewards", "ProgrammeActiveSet"))
    )


def rewards_set_programme_cap(s: Scene, c: Caller) -> Call:
    return Call(s.rewards.setProgrammeCap(s.programme, 10**9), Ok(("rewards", "ProgrammeCapSet")))


def rewards_set_distributor(s: Scene, c: Caller) -> Call:
    return Call(
        s.rewards.setDistributor(s.programme, outsider().address, True),
        Ok(("rewards", "DistributorSet")),
    )


def rewards_fund(s: Scene, c: Caller) -> Call:
    # The treasury holds no tokens in this city (it is no registry account): it passes the
    # access check and the token refuses to move its tokens (test_rewards_pool funds for real).
    if c.account is not None:
        s.town.token.approve(c.account, s.town.test_city.city.rewards.address, 1)
    return Call(
        s.rewards.fund(s.programme, 1),
        Err("CityTokenAccountNotActive", {"account": s.town.treasury.address}),
    )


def rewards_defund(s: Scene, c: Caller) -> Call:
    return Call(s.rewards.defund(s.programme, 1, s.payee), Ok(("rewards", "ProgrammeDefunded")))


def _not_distributor(programme: int) -> Callable[[Caller], Err]:
    return lambda caller: Err(
        "RewardsPoolNotDistributor", {"programmeId": programme, "account": caller.address}
    )


def rewards_grant(s: Scene, c: Caller) -> Call:
    return Call(
        s.rewards.grant(s.programme, s.payee, 1, _evidence()),
        public=only("resident", Ok(("rewards", "RewardGranted")), _not_distributor(s.programme)),
    )


def rewards_grant_batch(s: Scene, c: Caller) -> Call:
    return Call(
        s.rewards.grantBatch(s.programme, [s.payee], [1], [_evidence()]),
        public=only("resident", Ok(("rewards", "RewardGranted")), _not_distributor(s.programme)),
    )


def rewards_set_authority(s: Scene, c: Caller) -> Call:
    return Call(s.rewards.setAuthority(s.town.authority.address))


@dataclass(frozen=True)
class Entry:
    access: Access
    build: Callable[[Scene, Caller], Call]


MATRIX: dict[str, dict[str, Entry]] = {
    "CityToken": {
        "mint": Entry(Restricted(Role.TREASURY), token_mint),
        "mintAboveLimit": Entry(Restricted(Role.TREASURY_LARGE), token_mint_above_limit),
        "setMintLimit": Entry(Restricted(Role.ADMIN), token_set_mint_limit),
        "pause": Entry(Restricted(Role.PAUSER), token_pause),
        "unpause": Entry(Restricted(Role.PAUSER), token_unpause),
        "recoverBalance": Entry(Restricted(Role.RECOVERY), token_recover_balance),
        "setAuthority": Entry(AuthorityOnly(), token_set_authority),
        "transfer": Entry(Public(), token_transfer),
        "approve": Entry(Public(), token_approve),
        "transferFrom": Entry(Public(), token_transfer_from),
        "permit": Entry(Public(), token_permit),
        "redeem": Entry(Public(), token_redeem),
    },
    "ResidentRegistry": {
        "register": Entry(Restricted(Role.REGISTRAR), registry_register),
        "update": Entry(Restricted(Role.REGISTRAR), registry_update),
        "freeze": Entry(Restricted(Role.REGISTRAR), registry_freeze),
        "unfreeze": Entry(Restricted(Role.REGISTRAR), registry_unfreeze),
        "recover": Entry(Restricted(Role.REGISTRAR), registry_recover),
        "setToken": Entry(Restricted(Role.ADMIN), registry_set_token),
        "setAuthority": Entry(AuthorityOnly(), registry_set_authority),
    },
    "CityAuthority": {
        "labelRole": Entry(ManagerAdmin(), authority_label_role),
        "grantRole": Entry(ManagerAdmin(), authority_grant_role),
        "revokeRole": Entry(ManagerAdmin(), authority_revoke_role),
        "renounceRole": Entry(Public(), authority_renounce_role),
        "setRoleAdmin": Entry(ManagerAdmin(), authority_set_role_admin),
        "setRoleGuardian": Entry(ManagerAdmin(), authority_set_role_guardian),
        "setGrantDelay": Entry(ManagerAdmin(), authority_set_grant_delay),
        "setTargetAdminDelay": Entry(ManagerAdmin(), authority_set_target_admin_delay),
        "setTargetClosed": Entry(ManagerAdmin(), authority_set_target_closed),
        "setTargetFunctionRole": Entry(ManagerAdmin(), authority_set_target_function_role),
        "updateAuthority": Entry(ManagerAdmin(), authority_update_authority),
        "multicall": Entry(ManagerAdmin(), authority_multicall),
        "schedule": Entry(Delayed(Role.TREASURY_LARGE), authority_schedule),
        "execute": Entry(Delayed(Role.TREASURY_LARGE), authority_execute),
        "cancel": Entry(Canceller(Role.TREASURY_LARGE), authority_cancel),
        "consumeScheduledOp": Entry(Public(), authority_consume_scheduled_op),
    },
    "PaymentRouter": {
        "pay": Entry(Public(), router_pay),
        "payFor": Entry(Public(), router_pay_for),
        "cancelInvoice": Entry(Public(), router_cancel_invoice),
        "cancelInvoiceFor": Entry(Restricted(Role.PAYMENT_OPERATOR), router_cancel_invoice_for),
        "refund": Entry(Public(), router_refund),
        "requestRedemption": Entry(Public(), router_request_redemption),
        "confirmRedemption": Entry(Restricted(Role.TREASURY), router_confirm_redemption),
        "rejectRedemption": Entry(Restricted(Role.TREASURY), router_reject_redemption),
        "withdrawCityFees": Entry(Restricted(Role.TREASURY), router_withdraw_city_fees),
        "setFeeSchedule": Entry(Restricted(Role.MERCHANT_ADMIN), router_set_fee_schedule),
        "setCategoryFee": Entry(Restricted(Role.MERCHANT_ADMIN), router_set_category_fee),
        "setMerchantCategory": Entry(Restricted(Role.MERCHANT_ADMIN), router_set_merchant_category),
        "setMerchantFee": Entry(Restricted(Role.MERCHANT_ADMIN), router_set_merchant_fee),
        "setAuthority": Entry(AuthorityOnly(), router_set_authority),
    },
    "Elections": {
        "create": Entry(Restricted(Role.ELECTION_ADMIN), elections_create),
        "postCommitments": Entry(Public(), elections_post_commitments),
        "postShares": Entry(Public(), elections_post_shares),
        "setElectionKey": Entry(Restricted(Role.ELECTION_ADMIN), elections_set_election_key),
        "open": Entry(Restricted(Role.ELECTION_ADMIN), elections_open),
        "castBallot": Entry(Public(), elections_cast_ballot),
        "castBallotFor": Entry(Public(), elections_cast_ballot_for),
        "castVote": Entry(Public(), elections_cast_vote),
        "castVoteFor": Entry(Public(), elections_cast_vote_for),
        "close": Entry(Public(), elections_close),
        "postDecryption": Entry(Public(), elections_post_decryption),
        "publishResult": Entry(Restricted(Role.ELECTION_ADMIN), elections_publish_result),
        "setAuthority": Entry(AuthorityOnly(), elections_set_authority),
    },
    "RewardsPool": {
        "createProgramme": Entry(Restricted(Role.REWARDS_ADMIN), rewards_create_programme),
        "setProgrammeActive": Entry(Restricted(Role.REWARDS_ADMIN), rewards_set_programme_active),
        "setProgrammeCap": Entry(Restricted(Role.REWARDS_ADMIN), rewards_set_programme_cap),
        "setDistributor": Entry(Restricted(Role.REWARDS_ADMIN), rewards_set_distributor),
        "fund": Entry(Restricted(Role.TREASURY), rewards_fund),
        "defund": Entry(Restricted(Role.TREASURY), rewards_defund),
        "grant": Entry(Public(), rewards_grant),
        "grantBatch": Entry(Public(), rewards_grant_batch),
        "setAuthority": Entry(AuthorityOnly(), rewards_set_authority),
    },
}


def state_changing(contract: str) -> list[str]:
    """Every non-view, non-pure function of the contract's ABI."""
    return sorted(
        entry["name"]
        for entry in city_artifact(contract).abi
        if entry.get("type") == "function" and entry["stateMutability"] not in ("view", "pure")
    )


CELLS = [
    pytest.param(contract, function, caller, id=f"{contract}.{function}-by-{caller}")
    for contract in CONTRACTS
    for function in state_changing(contract)
    for caller in CALLERS
]


# -- fixtures -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def town(test_city: TestCity) -> Town:
    return Town(test_city)


@pytest.fixture(scope="module")
def scene(town: Town) -> Scene:
    resident = town.resident(balance=1_000)
    merchant = town.resident(balance=1_000, kind=AccountKind.MERCHANT)
    stranger = town.person()
    frozen, retired = town.resident(balance=1_000), town.resident(balance=1_000)
    town.registry.freeze(town.registrar, frozen.address)
    town.registry.recover(town.registrar, retired.address, outsider().address)
    owner = town.resident(balance=20_000)
    shop = town.resident(balance=1_000, kind=AccountKind.MERCHANT)
    payee = outsider().address
    town.register(payee)
    election_admin, rewards_admin = town.person(), town.person()
    town.authority.grant_role(town.admin, Role.ELECTION_ADMIN, election_admin.address)
    town.authority.grant_role(town.admin, Role.REWARDS_ADMIN, rewards_admin.address)
    staff = {
        "admin": town.admin,
        "treasury": town.treasury,
        "registrar": town.registrar,
        "pauser": town.pauser,
        "merchant_admin": town.merchant_admin,
        "payment_operator": town.payment_operator,
        "election_admin": election_admin,
        "rewards_admin": rewards_admin,
        "deployer": town.deployer,
        "resident": resident,
        "merchant": merchant,
        "stranger": stranger,
        "frozen": frozen,
        "retired": retired,
    }
    callers = {name: Caller(name, account.address, account) for name, account in staff.items()}
    callers["registry"] = Caller("registry", town.registry.address, None)
    assert set(callers) == set(CALLERS)
    # City fees for the withdrawal cells: one payment while the city takes half of each fee.
    payments = town.payments
    payments.set_fee_schedule(town.merchant_admin, 100, 5_000)
    payments.pay(owner, Order.new(shop.address, 10_000, town.latest_timestamp() + 3_600))
    payments.set_fee_schedule(town.merchant_admin, 100, 10_000)
    assert payments.city_fees() == 50
    # The standing elections the casting cells use: the resident and the owner may vote.
    voters = MerkleTree([resident.address, owner.address])
    scene = Scene(town, callers, owner, payee, outsider().address, shop, voters, 0, 0, 0)
    scene.poll = scene.new_election(until="open")
    scene.ballot_box = scene.new_election(ElectionKind.SECRET_BALLOT, until="open")
    # A funded programme for the grant and defund cells, funded by an account that is not a
    # caller: a registered resident the admin makes a (second) treasurer.
    rewards = town.test_city.city.rewards
    scene.programme = rewards.create_programme(
        rewards_admin, f"matrix-{uuid.uuid4().hex[:8]}", 10**9, 86_400
    )
    rewards.set_distributor(rewards_admin, scene.programme, resident.address)
    funder = town.resident(balance=10_000)
    town.authority.grant_role(town.admin, Role.TREASURY, funder.address)
    rewards.fund(funder, scene.programme, 10_000)
    return scene


# -- what each caller should get ------------------------------------------------------------------


def _member(caller: Caller, role: Role) -> int | None:
    """The caller's execution delay under ``role``, or None if it does not hold it."""
    return HOLDINGS[caller.name].get(role)


def expected(s: Scene, access: Access, call: Call, caller: Caller) -> Outcome:
    data = bytes.fromhex(call.function._encode_transaction_data()[2:])
    match access:
        case Restricted(role):
            delay = _member(caller, role)
            if delay is None:
                return Err("AccessManagedUnauthorized", {"caller": caller.address})
            if delay > 0:
                operation = s.authority.hashOperation(caller.address, call.function.address, data)
                op = bytes(s.town.chain.call(operation))
                return Err("AccessManagerNotScheduled", {"operationId": "0x" + op.hex()})
            return call.authorized
        case ManagerAdmin():
            if _member(caller, Role.ADMIN) is None:
                return Err(
                    "AccessManagerUnauthorizedAccount",
                    {"msgsender": caller.address, "roleId": int(Role.ADMIN)},
                )
            return call.authorized
        case AuthorityOnly():
            return Err("AccessManagedUnauthorized", {"caller": caller.address})
        case Delayed(role):
            delay = _member(caller, role)
            if delay is None or delay == 0:
                target, inner = call.function.args[0], call.function.args[1]
                return Err(
                    "AccessManagerUnauthorizedCall",
                    {
                        "caller": caller.address,
                        "target": target,
                        "selector": "0x" + inner[:4].hex(),
                    },
                )
            return call.authorized
        case Canceller(role):
            admin = _member(caller, Role.ADMIN) is not None
            if admin or caller.address == call.scheduler:  # ADMIN is every role's guardian here
                return call.authorized
            _, target, inner = call.function.args
            return Err(
                "AccessManagerUnauthorizedCancel",
                {
                    "msgsender": caller.address,
                    "caller": call.scheduler,
                    "target": target,
                    "selector": "0x" + inner[:4].hex(),
                },
            )
        case Public():
            assert call.public is not None, "a public cell must state each caller's outcome"
            return call.public(caller)
    raise AssertionError(f"unknown access rule {access}")


def run(s: Scene, call: Call, caller: Caller, outcome: Outcome) -> None:
    chain = s.town.chain
    if caller.account is None:

        def simulate() -> object:
            return chain.call(call.function, sender=caller.address)

        attempts = [simulate]
    else:
        account = caller.account
        attempts = [
            lambda: chain.transact(account, call.function),  # simulated and refused, not sent
            lambda: s.town.send_unchecked(account, call.function),  # mined, and failed
        ]
    match outcome:
        case Ok(event):
            result = attempts[0]()
            if event is not None and caller.account is not None:
                contract, name = event
                receipt = cast(TxReceipt, result)
                assert events(receipt, s.wrapper(contract), name), f"no {name} event"
        case Err(error, args):
            for attempt in attempts:
                reverts(attempt, error, **args)
        case Fails():
            for attempt in attempts:
                with pytest.raises(TransactionFailedError):  # no custom error to decode
                    attempt()


# -- the tests ------------------------------------------------------------------------------------


def test_the_matrix_covers_exactly_the_state_changing_functions_of_each_abi() -> None:
    for contract in CONTRACTS:
        assert set(MATRIX[contract]) == set(state_changing(contract)), contract


def test_the_matrix_restricts_exactly_what_function_roles_maps_with_the_same_roles() -> None:
    assert set(FUNCTION_ROLES) <= set(CONTRACTS)
    for contract in CONTRACTS:
        restricted = {
            name: entry.access.role
            for name, entry in MATRIX[contract].items()
            if isinstance(entry.access, Restricted)
        }
        assert restricted == FUNCTION_ROLES.get(contract, {}), contract


def test_role_ids_never_change_and_5_to_8_stay_reserved() -> None:
    """Role ids live on chain (grants, function mappings): ``ledger.roles`` may add a role with a
    new domain, but never renumber one or reuse the ids kept for the domains to come."""
    assert {role.name: int(role) for role in Role} == {
        "ADMIN": 0,
        "TREASURY": 1,
        "REGISTRAR": 2,
        "MERCHANT_ADMIN": 3,
        "ELECTION_ADMIN": 4,
        "PAUSER": 9,
        "TREASURY_LARGE": 10,
        "RECOVERY": 11,
        "PAYMENT_OPERATOR": 12,
        "REWARDS_ADMIN": 13,
    }
    assert set(Role) == {
        role for functions in FUNCTION_ROLES.values() for role in functions.values()
    }


NATSPEC_FUNCTION = re.compile(r"/\*\*((?:(?!\*/).)*)\*/\s*function\s+(\w+)\s*\(", re.DOTALL)
NATSPEC_ROLE = re.compile(r"Restricted\s*\((\w+)")


def test_the_role_each_functions_natspec_names_is_its_role_in_function_roles() -> None:
    """The contracts' NatSpec says "Restricted (ROLE)" on each restricted function for a reader
    of the source; ledger.roles.FUNCTION_ROLES is the source of truth, and they must agree."""
    sources = ROOT / "contracts" / "src"
    for contract in CONTRACTS:
        if contract == "CityAuthority":
            continue  # OpenZeppelin's AccessManager: no function of ours
        (path,) = sources.rglob(f"{contract}.sol")
        named = {}
        for doc, function in NATSPEC_FUNCTION.findall(path.read_text()):
            text = " ".join(line.strip().lstrip("*") for line in doc.splitlines())
            found = NATSPEC_ROLE.search(text)
            if found is not None:
                named[function] = found.group(1)
        mapped = {name: role.name for name, role in FUNCTION_ROLES.get(contract, {}).items()}
        assert named == mapped, contract


def test_the_deployed_authority_maps_every_restricted_function_to_its_role(town: Town) -> None:
    addresses = {
        "CityToken": town.token.address,
        "ResidentRegistry": town.registry.address,
        "PaymentRouter": town.payments.address,
        "Elections": town.test_city.city.elections.address,
        "RewardsPool": town.test_city.city.rewards.address,
    }
    for contract, functions in FUNCTION_ROLES.items():
        abi = {e["name"]: e for e in city_artifact(contract).abi if e.get("type") == "function"}
        for name, role in functions.items():
            selector = function_abi_to_4byte_selector(cast(Any, abi[name]))
            assert town.authority.target_function_role(addresses[contract], selector) is role, (
                f"{contract}.{name}"
            )


def test_each_caller_holds_exactly_its_roles(scene: Scene) -> None:
    for caller in scene.callers.values():
        for role in Role:
            membership = scene.town.authority.has_role(role, caller.address)
            delay = HOLDINGS[caller.name].get(role)
            assert membership.is_member == (delay is not None), (caller.name, role)
            if delay is not None:
                assert membership.execution_delay == delay, (caller.name, role)


@pytest.mark.parametrize("caller_name", CALLERS)
def test_can_call_agrees_with_the_matrix_for_every_restricted_function(
    scene: Scene, caller_name: str
) -> None:
    caller = scene.callers[caller_name]
    targets: dict[str, ContractWrapper] = {
        "CityToken": scene.town.token,
        "ResidentRegistry": scene.town.registry,
        "PaymentRouter": scene.town.payments,
        "Elections": scene.town.test_city.city.elections,
        "RewardsPool": scene.town.test_city.city.rewards,
    }
    for contract, target in targets.items():
        for name, entry in MATRIX[contract].items():
            if not isinstance(entry.access, Restricted):
                continue
            selector = target.calldata(name, *_placeholder_args(contract, name))[:4]
            immediate, delay = scene.town.chain.call(
                scene.authority.canCall(caller.address, target.address, selector)
            )
            member = _member(caller, entry.access.role)
            assert (immediate, delay) == (
                (False, 0) if member is None else (member == 0, member)
            ), f"{contract}.{name}"


def _placeholder_args(contract: str, name: str) -> list[object]:
    (entry,) = [
        e for e in city_artifact(contract).abi if e.get("type") == "function" and e["name"] == name
    ]
    return [_placeholder(i) for i in entry["inputs"]]


def _placeholder(parameter: dict[str, Any]) -> object:
    """A zero value of an ABI parameter's type (structs as tuples of zeros)."""
    kind = parameter["type"]
    if kind == "tuple":
        return tuple(_placeholder(c) for c in parameter["components"])
    if kind.endswith("[]"):
        return []
    zero: dict[str, object] = {
        "address": "0x" + "00" * 20,
        "bytes32": bytes(32),
        "bytes": b"",
        "bool": False,
    }
    return zero.get(kind, 0)


def test_renouncing_needs_the_callers_own_confirmation(scene: Scene) -> None:
    member = scene.callers["resident"]
    account = member.account
    assert account is not None
    grant_spare(scene, member.address)
    reverts(
        lambda: scene.town.chain.transact(
            account, scene.authority.renounceRole(SPARE, scene.town.admin.address)
        ),
        "AccessManagerBadConfirmation",
    )
    scene.town.chain.transact(account, scene.authority.renounceRole(SPARE, member.address))
    assert not scene.town.chain.call(scene.authority.hasRole(SPARE, member.address))[0]


@pytest.mark.parametrize(("contract", "function", "caller_name"), CELLS)
def test_role_matrix(scene: Scene, contract: str, function: str, caller_name: str) -> None:
    entry = MATRIX[contract].get(function)
    if entry is None:
        pytest.fail(
            f"{contract}.{function} is a state-changing function without a role-matrix entry: "
            "add it to MATRIX in tests/contracts/test_roles.py (and FUNCTION_ROLES if restricted)"
        )
    caller = scene.callers[caller_name]
    call = entry.build(scene, caller)
    try:
        run(scene, call, caller, expected(scene, entry.access, call, caller))
    finally:
        if call.cleanup is not None:
            call.cleanup()
