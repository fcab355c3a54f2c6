"""The RewardsPool's rules, on the embedded node AND on anvil.

Programmes and their settings, funding pulled from the treasury and returned, grants that are
idempotent by (programme, resident, evidence), the per-resident cap per period and its edges,
batches with repeats, and every custom error with its exact arguments. After every movement the
pool holds exactly the sum of the budgets, and every programme's ``funded`` is its budget plus
what it granted and returned. The random-sequence version of these rules is
tests/contracts/test_rewards_stateful.py.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from cityledger.testing.accounts import make_accounts
from ledger.contracts.base import city_artifact
from ledger.contracts.elections import vote_evidence_id
from ledger.contracts.rewards import Grant, ProgrammeNotFoundError, RewardsPool
from ledger.deploy import service_credential
from ledger.domains.voting import VOTING_CAP, VOTING_PERIOD, VOTING_PROGRAMME
from ledger.exceptions import AccessDeniedError, RewardsError
from ledger.roles import Role
from ledger.types import AccountKind, AccountStatus, reference
from tests.contracts.helpers import Town, events, new_ref, only_event, outsider, reverts

REWARDS_SUITE_ACCOUNTS = 5 + 60 + 2
DAY = 86_400
FUNDS = 1_000_000
"""What the treasury holds for this module's programmes."""


@pytest.fixture(scope="module")
def accounts() -> list[LocalAccount]:
    """Overrides tests/contracts/conftest.py for this module's nodes and cities."""
    return make_accounts(REWARDS_SUITE_ACCOUNTS)


@pytest.fixture(scope="module", params=["embedded", pytest.param("anvil", marks=pytest.mark.anvil)])
def town(request: pytest.FixtureRequest) -> Town:
    return Town(
        request.getfixturevalue("test_city" if request.param == "embedded" else "anvil_city")
    )


@dataclass
class Desk:
    """The pool, its administrator, a distributor, and a treasury that holds tokens."""

    town: Town
    admin: LocalAccount
    """Holds REWARDS_ADMIN."""
    distributor: LocalAccount

    @property
    def pool(self) -> RewardsPool:
        return self.town.test_city.city.rewards

    @property
    def treasury(self) -> LocalAccount:
        return self.town.treasury

    def programme(self, cap: int = 10_000, period: int = 30 * DAY, fund: int = 0) -> int:
        """A new programme (unique name) of which ``distributor`` is a distributor."""
        programme_id = self.pool.create_programme(
            self.admin, f"p-{uuid.uuid4().hex[:12]}", cap, period
        )
        self.pool.set_distributor(self.admin, programme_id, self.distributor.address)
        if fund:
            self.pool.fund(self.treasury, programme_id, fund)
        return programme_id

    def resident(self) -> LocalAccount:
        return self.town.resident()

    def balance(self, account: LocalAccount | str) -> int:
        return self.town.token.balance_of(account if isinstance(account, str) else account.address)

    def assert_books_balance(self) -> None:
        """The pool holds exactly the sum of the budgets; every programme's money is known."""
        budgets = 0
        for programme_id in range(1, self.pool.programme_count() + 1):
            programme = self.pool.programme(programme_id)
            assert programme is not None
            assert programme.funded == programme.budget + programme.granted + programme.defunded
            budgets += programme.budget
        assert self.balance(self.pool.address) == self.pool.total_budget() == budgets


@pytest.fixture(scope="module")
def desk(town: Town) -> Desk:
    admin, distributor = town.person(), town.person()
    town.authority.grant_role(town.admin, Role.REWARDS_ADMIN, admin.address)
    # The treasury funds programmes from tokens it holds: an active account, topped up.
    town.registry.register(
        town.registrar, town.treasury.address, AccountKind.CITY_SERVICE, 0, keccak(text="treasury")
    )
    town.token.mint(town.treasury, town.treasury.address, FUNDS, new_ref("dep"))
    return Desk(town, admin, distributor)


def evidence(label: str = "") -> bytes:
    return keccak(text=f"evidence {label} {uuid.uuid4()}")


# -- the deployment --------------------------------------------------------------------------------


def test_the_deployment_registered_the_pool_and_made_the_voting_programme(desk: Desk) -> None:
    pool, town = desk.pool, desk.town
    registration = town.registry.registration_of(pool.address)
    assert (registration.kind, registration.status) == (
        AccountKind.CITY_SERVICE,
        AccountStatus.ACTIVE,
    )
    assert registration.credential_hash == service_credential("RewardsPool")
    assert pool.token.address == town.token.address
    assert pool._read("registry") == town.registry.address
    voting = pool.programme_id(VOTING_PROGRAMME)
    programme = pool.programme(voting)
    assert programme is not None
    assert (
        programme.name,
        programme.cap_per_period,
        programme.period_length,
        programme.active,
    ) == (
        "voting",
        VOTING_CAP,
        VOTING_PERIOD,
        True,
    )
    assert (VOTING_CAP, VOTING_PERIOD) == (10_000, 30 * DAY)


# -- programmes ------------------------------------------------------------------------------------


def test_creating_programmes(desk: Desk) -> None:
    pool, admin = desk.pool, desk.admin
    count = pool.programme_count()
    name = f"volunteer-{uuid.uuid4().hex[:8]}"
    fn = pool.contract.functions.createProgramme(reference(name), 5_000, 7 * DAY)
    receipt = desk.town.chain.transact(admin, fn)
    assert only_event(receipt, pool, "ProgrammeCreated") == {
        "programmeId": count + 1,
        "name": reference(name),
        "capPerPeriod": 5_000,
        "periodLength": 7 * DAY,
    }
    assert pool.programme_count() == count + 1
    assert pool.programme_id(name) == count + 1
    programme = pool.programme(count + 1)
    assert programme is not None
    assert (programme.name, programme.budget, programme.granted, programme.active) == (
        name,
        0,
        0,
        True,
    )
    assert not pool.is_distributor(count + 1, desk.distributor.address)
    reverts(
        lambda: pool.create_programme(admin, name, 1, 1),
        "RewardsPoolNameTaken",
        name=name,
        programmeId=count + 1,
    )
    empty = pool.contract.functions.createProgramme(bytes(32), 1, 1)
    reverts(lambda: desk.town.chain.transact(admin, empty), "RewardsPoolEmptyName")
    reverts(lambda: pool.create_programme(admin, "no-cap", 0, DAY), "RewardsPoolZeroCap")
    reverts(lambda: pool.create_programme(admin, "no-period", 1, 0), "RewardsPoolZeroPeriod")
    assert pool.programme_count() == count + 1
    assert pool.programme(count + 2) is None
    with pytest.raises(ProgrammeNotFoundError):
        pool.programme_id("never made")


def test_programme_settings(desk: Desk) -> None:
    pool, admin = desk.pool, desk.admin
    programme_id = desk.programme(cap=100)
    unknown = pool.programme_count() + 1
    receipt = pool.set_programme_active(admin, programme_id, False)
    assert only_event(receipt, pool, "ProgrammeActiveSet") == {
        "programmeId": programme_id,
        "active": False,
    }
    programme = pool.programme(programme_id)
    assert programme is not None
    assert not programme.active
    pool.set_programme_active(admin, programme_id, True)
    receipt = pool.set_programme_cap(admin, programme_id, 250)
    assert only_event(receipt, pool, "ProgrammeCapSet") == {
        "programmeId": programme_id,
        "capPerPeriod": 250,
    }
    programme = pool.programme(programme_id)
    assert programme is not None
    assert (programme.cap_per_period, programme.active) == (250, True)
    reverts(
        lambda: pool.set_programme_cap(admin, programme_id, 0),
        "RewardsPoolZeroCap",
    )
    other = outsider().address
    receipt = pool.set_distributor(admin, programme_id, other)
    assert only_event(receipt, pool, "DistributorSet") == {
        "programmeId": programme_id,
        "account": other,
        "allowed": True,
    }
    assert pool.is_distributor(programme_id, other)
    pool.set_distributor(admin, programme_id, other, False)
    assert not pool.is_distributor(programme_id, other)
    reverts(
        lambda: pool.set_distributor(admin, programme_id, "0x" + "00" * 20),
        "RewardsPoolZeroAddress",
    )
    for attempt in (
        lambda: pool.set_programme_active(admin, unknown, True),
        lambda: pool.set_programme_cap(admin, unknown, 1),
        lambda: pool.set_distributor(admin, unknown, other),
        lambda: pool.fund(desk.treasury, unknown, 1),
        lambda: pool.defund(desk.treasury, unknown, 1, other),
        lambda: pool.grant(desk.distributor, unknown, other, 1, evidence()),
        lambda: pool.current_period(unknown),
    ):
        reverts(attempt, "RewardsPoolUnknownProgramme", programmeId=unknown)


def test_only_the_rewards_admin_and_the_treasury_run_the_pool(desk: Desk) -> None:
    pool = desk.pool
    programme_id = desk.programme(fund=10)
    someone = desk.town.person()
    with pytest.raises(AccessDeniedError):
        pool.create_programme(someone, "sneaky", 1, 1)
    for caller in (someone, desk.treasury, desk.distributor):
        for attempt in (
            lambda c=caller: pool.create_programme(c, "sneaky", 1, 1),
            lambda c=caller: pool.set_programme_active(c, programme_id, False),
            lambda c=caller: pool.set_programme_cap(c, programme_id, 1),
            lambda c=caller: pool.set_distributor(c, programme_id, c.address),
        ):
            reverts(attempt, "AccessManagedUnauthorized", caller=caller.address)
    for caller in (someone, desk.admin, desk.distributor):
        reverts(
            lambda c=caller: pool.defund(c, programme_id, 1, c.address),
            "AccessManagedUnauthorized",
            caller=caller.address,
        )
    desk.town.token.approve(desk.admin, pool.address, 1)
    reverts(
        lambda: desk.town.chain.transact(desk.admin, pool.contract.functions.fund(programme_id, 1)),
        "AccessManagedUnauthorized",
        caller=desk.admin.address,
    )


# -- money in and out ------------------------------------------------------------------------------


def test_funding_pulls_exactly_the_amount_and_defunding_returns_it(desk: Desk) -> None:
    pool, town, treasury = desk.pool, desk.town, desk.treasury
    programme_id = desk.programme()
    held, pool_held = desk.balance(treasury), desk.balance(pool.address)
    receipt = pool.fund(treasury, programme_id, 7_000)
    assert only_event(receipt, pool, "ProgrammeFunded") == {
        "programmeId": programme_id,
        "from": treasury.address,
        "amount": 7_000,
        "budget": 7_000,
    }
    assert town.token.allowance(treasury.address, pool.address) == 0  # approved exactly
    assert desk.balance(treasury) == held - 7_000
    assert desk.balance(pool.address) == pool_held + 7_000
    pool.fund(treasury, programme_id, 3_000)
    payee = desk.resident()
    receipt = pool.defund(treasury, programme_id, 4_000, payee.address)
    assert only_event(receipt, pool, "ProgrammeDefunded") == {
        "programmeId": programme_id,
        "to": payee.address,
        "amount": 4_000,
        "budget": 6_000,
    }
    assert desk.balance(payee) == 4_000
    programme = pool.programme(programme_id)
    assert programme is not None
    assert (programme.funded, programme.budget, programme.defunded) == (10_000, 6_000, 4_000)
    reverts(
        lambda: pool.defund(treasury, programme_id, 6_001, payee.address),
        "RewardsPoolInsufficientBudget",
        programmeId=programme_id,
        amount=6_001,
        budget=6_000,
    )
    reverts(lambda: pool.defund(treasury, programme_id, 0, payee.address), "RewardsPoolZeroAmount")
    reverts(
        lambda: pool.defund(treasury, programme_id, 1, "0x" + "00" * 20), "RewardsPoolZeroAddress"
    )
    reverts(lambda: pool.fund(treasury, programme_id, 0), "RewardsPoolZeroAmount")
    have = desk.balance(treasury)
    reverts(
        lambda: pool.fund(treasury, programme_id, have + 1),
        "ERC20InsufficientBalance",
        sender=treasury.address,
        balance=have,
        needed=have + 1,
    )
    # Returning to an account that cannot hold tokens is the token's refusal.
    stranger = outsider().address
    reverts(
        lambda: pool.defund(treasury, programme_id, 1, stranger),
        "CityTokenAccountNotActive",
        account=stranger,
    )
    pool.defund(treasury, programme_id, 6_000, payee.address)  # to the last token
    programme = pool.programme(programme_id)
    assert programme is not None
    assert (programme.budget, programme.funded, programme.defunded) == (0, 10_000, 10_000)
    desk.assert_books_balance()


# -- grants ----------------------------------------------------------------------------------------


def test_a_grant_is_paid_once_per_evidence(desk: Desk) -> None:
    pool, distributor = desk.pool, desk.distributor
    programme_id = desk.programme(fund=1_000)
    alice, bob = desk.resident(), desk.resident()
    proof = evidence("alice")
    fn = pool.contract.functions.grant(programme_id, alice.address, 300, proof)
    receipt = desk.town.chain.transact(distributor, fn)
    period = pool.current_period(programme_id)
    assert only_event(receipt, pool, "RewardGranted") == {
        "programmeId": programme_id,
        "resident": alice.address,
        "amount": 300,
        "evidenceId": proof,
        "period": period,
    }
    assert desk.balance(alice) == 300
    assert pool.is_granted(programme_id, alice.address, proof)
    assert pool.granted_for(programme_id, alice.address, proof) == 300
    assert pool.granted_in_period(programme_id, alice.address) == 300
    # The same grant again: nothing paid, no event, no error (a payout can be re-run).
    receipt = desk.town.chain.transact(distributor, fn)
    assert events(receipt, pool, "RewardGranted") == []
    assert pool.grant(distributor, programme_id, alice.address, 300, proof) is False
    assert desk.balance(alice) == 300
    # The same evidence for another amount is a mistake, not a repeat.
    reverts(
        lambda: pool.grant(distributor, programme_id, alice.address, 301, proof),
        "RewardsPoolGrantConflict",
        programmeId=programme_id,
        resident=alice.address,
        evidenceId="0x" + proof.hex(),
        granted=300,
    )
    # The same evidence for another resident is another grant.
    assert pool.grant(distributor, programme_id, bob.address, 300, proof) is True
    assert not pool.is_granted(programme_id, bob.address, evidence())
    programme = pool.programme(programme_id)
    assert programme is not None
    assert (programme.budget, programme.granted) == (400, 600)
    grants = pool.grants(programme_id)
    assert [(g.resident, g.amount, g.evidence_id, g.period) for g in grants] == [
        (alice.address, 300, proof, period),
        (bob.address, 300, proof, period),
    ]
    assert [g.resident for g in pool.grants(programme_id, resident=bob.address)] == [bob.address]
    desk.assert_books_balance()


def test_grant_refusals(desk: Desk) -> None:
    pool, distributor, town = desk.pool, desk.distributor, desk.town
    programme_id = desk.programme(fund=500)
    resident = desk.resident()
    someone = town.person()
    reverts(
        lambda: pool.grant(someone, programme_id, resident.address, 1, evidence()),
        "RewardsPoolNotDistributor",
        programmeId=programme_id,
        account=someone.address,
    )
    reverts(
        lambda: pool.grant(distributor, programme_id, resident.address, 0, evidence()),
        "RewardsPoolZeroAmount",
    )
    reverts(
        lambda: pool.grant(distributor, programme_id, resident.address, 1, bytes(32)),
        "RewardsPoolEmptyEvidence",
    )
    unregistered = outsider().address
    reverts(
        lambda: pool.grant(distributor, programme_id, unregistered, 1, evidence()),
        "RewardsPoolResidentNotActive",
        resident=unregistered,
    )
    frozen = desk.resident()
    town.registry.freeze(town.registrar, frozen.address)
    reverts(
        lambda: pool.grant(distributor, programme_id, frozen.address, 1, evidence()),
        "RewardsPoolResidentNotActive",
        resident=frozen.address,
    )
    reverts(
        lambda: pool.grant(distributor, programme_id, resident.address, 501, evidence()),
        "RewardsPoolInsufficientBudget",
        programmeId=programme_id,
        amount=501,
        budget=500,
    )
    paid = evidence("before the switch-off")
    assert pool.grant(distributor, programme_id, resident.address, 20, paid)
    pool.set_programme_active(desk.admin, programme_id, False)
    reverts(
        lambda: pool.grant(distributor, programme_id, resident.address, 1, evidence()),
        "RewardsPoolProgrammeInactive",
        programmeId=programme_id,
    )
    # A repeat stays a harmless repeat, even while switched off.
    assert pool.grant(distributor, programme_id, resident.address, 20, paid) is False
    pool.set_programme_active(desk.admin, programme_id, True)
    pool.set_distributor(desk.admin, programme_id, distributor.address, False)
    reverts(
        lambda: pool.grant(distributor, programme_id, resident.address, 1, evidence()),
        "RewardsPoolNotDistributor",
        programmeId=programme_id,
        account=distributor.address,
    )
    # Paused token: the grant's transfer refuses, and the whole grant with it.
    pool.set_distributor(desk.admin, programme_id, distributor.address)
    town.token.pause(town.pauser)
    try:
        gift = evidence("paused")
        reverts(
            lambda: pool.grant(distributor, programme_id, resident.address, 5, gift),
            "EnforcedPause",
        )
    finally:
        town.token.unpause(town.pauser)
    assert not pool.is_granted(programme_id, resident.address, gift)
    desk.assert_books_balance()


def test_the_cap_per_period_and_its_edges(desk: Desk) -> None:
    pool, distributor, town = desk.pool, desk.distributor, desk.town
    period_length = 40
    programme_id = desk.programme(cap=100, period=period_length, fund=1_000)
    resident = desk.resident()
    # Start a few blocks into a fresh period, so the grants below share one.
    town.advance_to((town.latest_timestamp() // period_length + 1) * period_length + 1)
    period = pool.current_period(programme_id)
    assert pool.grant(distributor, programme_id, resident.address, 60, evidence())
    assert pool.grant(
        distributor, programme_id, resident.address, 40, evidence()
    )  # exactly the cap
    assert pool.granted_in_period(programme_id, resident.address, period) == 100
    reverts(
        lambda: pool.grant(distributor, programme_id, resident.address, 1, evidence()),
        "RewardsPoolCapExceeded",
        programmeId=programme_id,
        resident=resident.address,
        amount=1,
        available=0,
    )
    # Another resident has a cap of their own.
    other = desk.resident()
    reverts(
        lambda: pool.grant(distributor, programme_id, other.address, 101, evidence()),
        "RewardsPoolCapExceeded",
        programmeId=programme_id,
        resident=other.address,
        amount=101,
        available=100,
    )
    assert pool.grant(distributor, programme_id, other.address, 100, evidence())
    # The next period starts afresh.
    town.advance_to((period + 1) * period_length)
    assert pool.current_period(programme_id) == period + 1
    assert pool.grant(distributor, programme_id, resident.address, 70, evidence())
    assert pool.granted_in_period(programme_id, resident.address) == 70
    assert pool.granted_in_period(programme_id, resident.address, period) == 100
    # Lowering the cap below what a resident already had leaves nothing this period.
    pool.set_programme_cap(desk.admin, programme_id, 50)
    reverts(
        lambda: pool.grant(distributor, programme_id, resident.address, 1, evidence()),
        "RewardsPoolCapExceeded",
        programmeId=programme_id,
        resident=resident.address,
        amount=1,
        available=0,
    )
    last = pool.grants(programme_id, resident=resident.address)
    assert [g.period for g in last] == [period, period, period + 1]
    desk.assert_books_balance()


def test_a_batch_pays_new_grants_and_skips_repeats(desk: Desk) -> None:
    pool, distributor = desk.pool, desk.distributor
    programme_id = desk.programme(cap=1_000, fund=10_000)
    residents = [desk.resident() for _ in range(12)]
    vote = vote_evidence_id(desk.town.test_city.city.elections.address, 1)
    assert pool.grant(distributor, programme_id, residents[0].address, 100, vote)
    batch = [Grant(r.address, 100, vote) for r in residents]
    batch.append(Grant(residents[5].address, 100, vote))  # the same grant twice in one batch
    assert pool.grant_batch(distributor, programme_id, batch) == 11
    assert all(desk.balance(r) == 100 for r in residents)
    assert pool.grant_batch(distributor, programme_id, batch) == 0  # all repeats now
    # One bad item refuses the whole batch: nothing of it is paid.
    newcomer, unregistered = desk.resident(), outsider().address
    mixed = [(newcomer.address, 50, evidence()), (unregistered, 50, evidence())]
    reverts(
        lambda: pool.grant_batch(distributor, programme_id, mixed),
        "RewardsPoolResidentNotActive",
        resident=unregistered,
    )
    assert desk.balance(newcomer) == 0
    reverts(
        lambda: pool.grant_batch(
            distributor,
            programme_id,
            [(newcomer.address, 101, vote), (newcomer.address, 102, vote)],
        ),
        "RewardsPoolGrantConflict",
        programmeId=programme_id,
        resident=newcomer.address,
        evidenceId="0x" + vote.hex(),
        granted=101,
    )
    bad_lengths = pool.contract.functions.grantBatch(
        programme_id, [newcomer.address], [1, 2], [vote]
    )
    reverts(
        lambda: desk.town.chain.transact(distributor, bad_lengths),
        "RewardsPoolLengthMismatch",
        residents=1,
        amounts=2,
        evidenceIds=1,
    )
    someone = desk.town.person()
    reverts(
        lambda: pool.grant_batch(someone, programme_id, batch),
        "RewardsPoolNotDistributor",
        programmeId=programme_id,
        account=someone.address,
    )
    assert pool.grant_batch(distributor, programme_id, []) == 0
    programme = pool.programme(programme_id)
    assert programme is not None
    assert (programme.granted, programme.budget) == (1_200, 8_800)
    assert len(pool.grants(programme_id)) == 12
    desk.assert_books_balance()


def test_a_large_batch_fits_one_transaction(desk: Desk) -> None:
    """The voting payout's batch size (200) through one grantBatch, to fresh holders."""
    pool, town = desk.pool, desk.town
    programme_id = desk.programme(cap=10, fund=2_000)
    residents = [outsider().address for _ in range(200)]
    for account in residents:
        town.register(account)
    vote = evidence("a vote")
    paid = pool.grant_batch(desk.distributor, programme_id, [(r, 10, vote) for r in residents])
    assert paid == 200
    programme = pool.programme(programme_id)
    assert programme is not None
    assert (programme.budget, programme.granted) == (0, 2_000)
    desk.assert_books_balance()


def test_the_pool_refuses_a_token_of_another_registry(desk: Desk) -> None:
    town = desk.town
    artifact = city_artifact("RewardsPool")
    factory = town.chain.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    other_registry = outsider().address

    def deploy(token: str, registry: str) -> object:
        data = factory.constructor(town.authority.address, token, registry).data_in_transaction
        return town.chain.transact(town.deployer, data=bytes.fromhex(data[2:]))

    reverts(
        lambda: deploy(town.token.address, other_registry),
        "RewardsPoolRegistryMismatch",
        token=town.token.address,
        registry=other_registry,
    )
    reverts(lambda: deploy("0x" + "00" * 20, town.registry.address), "RewardsPoolZeroAddress")


def test_every_custom_error_is_exercised_here() -> None:
    source = Path(__file__).read_text()
    errors = [e["name"] for e in city_artifact("RewardsPool").abi if e.get("type") == "error"]
    own = [e for e in errors if e.startswith("RewardsPool")]
    assert len(own) >= 15
    missing = [e for e in own if f'"{e}"' not in source]
    assert not missing, f"RewardsPool errors no test here raises: {missing}"
    assert issubclass(RewardsError, Exception)
