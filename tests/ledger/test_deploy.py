"""Deployment: wires every role, resumes after a failure, verifies instead of redeploying."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from cityledger.testing.accounts import write_genesis
from cityledger.testing.processes import NodeProcess
from ledger import deploy as deploy_module
from ledger.chain import Chain
from ledger.city import City
from ledger.config import LedgerSettings
from ledger.deploy import (
    LEGACY_STEPS,
    Deployment,
    DeploymentError,
    DeployPlan,
    Manifest,
    Run,
    deploy_city,
    domain_steps,
    service_credential,
)
from ledger.domains import FUNCTION_ROLES, contract_names
from ledger.domains.payments import PAYMENTS
from ledger.domains.voting import VOTING, VOTING_CAP, VOTING_PERIOD, VOTING_PROGRAMME
from ledger.exceptions import AccessDeniedError
from ledger.roles import Role
from ledger.types import AccountKind, AccountStatus


@pytest.fixture
def fresh_chain(
    node_factory: Callable[..., NodeProcess], tmp_path: Path, accounts: list[LocalAccount]
) -> Chain:
    write_genesis(tmp_path / "genesis.json", accounts)
    node = node_factory(tmp_path / "genesis.json", "--block-period", "0")
    return Chain(node.url)


def test_deploy_wires_roles_and_hands_admin_over(
    fresh_chain: Chain, accounts: list[LocalAccount], tmp_path: Path
) -> None:
    deployer, admin, treasury = accounts[0], accounts[1], accounts[2]
    plan = DeployPlan("test", admin.address, grants={Role.TREASURY: [(treasury.address, 0)]})
    manifest = deploy_city(fresh_chain, deployer, plan, tmp_path / "test.json")
    assert manifest.complete
    city = City.at(fresh_chain, manifest)
    assert city.registry.token() == city.token.address
    assert city.authority.has_role(Role.ADMIN, admin.address).is_member
    assert not city.authority.has_role(Role.ADMIN, deployer.address).is_member
    assert city.authority.has_role(Role.TREASURY, treasury.address).is_member
    assert city.authority.has_role(Role.RECOVERY, city.registry.address).is_member
    router = city.registry.registration_of(city.payments.address)
    assert (router.kind, router.status) == (AccountKind.CITY_SERVICE, AccountStatus.ACTIVE)
    assert city.payments.token.address == city.token.address
    # The registrar role the deployer took to register the router was given back.
    assert not city.authority.has_role(Role.REGISTRAR, deployer.address).is_member
    assert manifest.temporary_roles == []
    for target_name, functions in FUNCTION_ROLES.items():
        target = manifest.address(target_name)
        for function, role in functions.items():
            selector = deploy_module._selector(target_name, function)
            assert city.authority.target_function_role(target, selector) == role, function
    with pytest.raises(AccessDeniedError):
        city.authority.grant_role(deployer, Role.TREASURY, deployer.address)


def test_rerun_verifies_and_sends_nothing(
    fresh_chain: Chain, accounts: list[LocalAccount], tmp_path: Path
) -> None:
    plan = DeployPlan("test", accounts[1].address)
    path = tmp_path / "test.json"
    first = deploy_city(fresh_chain, accounts[0], plan, path)
    block = fresh_chain.block_number()
    again = deploy_city(fresh_chain, accounts[0], plan, path)
    assert again == first
    assert fresh_chain.block_number() == block


def test_a_failed_run_resumes_where_it_stopped(
    fresh_chain: Chain,
    accounts: list[LocalAccount],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plan = DeployPlan("test", accounts[1].address)
    path = tmp_path / "test.json"
    real_steps = deploy_module.steps

    def failing_steps() -> list[tuple[str, Run]]:
        steps = real_steps()
        at = [step for step, _ in steps].index("core.link-registry-to-token")

        def boom(_deployment: Deployment) -> None:
            raise RuntimeError("power cut")

        return [*steps[:at], (steps[at][0], boom), *steps[at + 1 :]]

    monkeypatch.setattr(deploy_module, "steps", failing_steps)
    with pytest.raises(RuntimeError, match="power cut"):
        deploy_city(fresh_chain, accounts[0], plan, path)
    partial = Manifest.load(path)
    assert not partial.complete
    core = ("CityAuthority", "ResidentRegistry", "CityToken")
    assert partial.steps == [f"core.deploy.{name}" for name in core]
    assert set(partial.contracts) == set(core)
    monkeypatch.setattr(deploy_module, "steps", real_steps)
    manifest = deploy_city(fresh_chain, accounts[0], plan, path)
    assert manifest.complete
    kept = {name: manifest.contracts[name] for name in partial.contracts}
    assert kept == partial.contracts, "no contract was deployed twice"
    assert set(manifest.contracts) == set(contract_names())
    assert City.at(fresh_chain, manifest).registry.token() == manifest.address("CityToken")


def test_a_manifest_from_another_chain_state_is_refused(
    node_factory: Callable[..., NodeProcess], accounts: list[LocalAccount], tmp_path: Path
) -> None:
    write_genesis(tmp_path / "genesis.json", accounts)
    first = Chain(node_factory(tmp_path / "genesis.json", "--block-period", "0").url)
    plan = DeployPlan("test", accounts[1].address)
    deploy_city(first, accounts[0], plan, tmp_path / "test.json")
    reset = Chain(
        node_factory(
            tmp_path / "genesis.json", "--block-period", "0", data_dir=tmp_path / "new"
        ).url
    )
    with pytest.raises(DeploymentError, match="no code"):
        deploy_city(reset, accounts[0], plan, tmp_path / "test.json")


PAYMENT_STEPS = tuple(step for step, _ in domain_steps(PAYMENTS))


def _without(monkeypatch: pytest.MonkeyPatch, left_out: tuple[str, ...]) -> pytest.MonkeyPatch:
    """Deploy as the platform was before a domain: its steps left out."""
    real_steps = deploy_module.steps
    monkeypatch.setattr(
        deploy_module, "steps", lambda: [s for s in real_steps() if s[0] not in left_out]
    )
    return monkeypatch


def _deploy_without_the_router(
    chain: Chain,
    deployer: LocalAccount,
    plan: DeployPlan,
    path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Manifest:
    """A deployment as it was made before the PaymentRouter existed (its steps left out)."""
    with monkeypatch.context() as patch:
        _without(patch, PAYMENT_STEPS)
        manifest = deploy_city(chain, deployer, plan, path)
    assert manifest.complete
    assert "PaymentRouter" not in manifest.contracts
    return manifest


def test_a_deployment_from_before_the_router_is_upgraded_by_its_admin(
    fresh_chain: Chain,
    accounts: list[LocalAccount],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deployer, admin, operator = accounts[0], accounts[1], accounts[3]
    plan = DeployPlan(
        "test", admin.address, grants={Role.PAYMENT_OPERATOR: [(operator.address, 0)]}
    )
    path = tmp_path / "test.json"
    old = _deploy_without_the_router(fresh_chain, deployer, plan, path, monkeypatch)
    with pytest.raises(DeploymentError, match="predates the PaymentRouter"):
        City.connect(_settings(fresh_chain, path), path)

    # The deployer handed ADMIN over: it cannot add the router, and nothing is sent.
    block = fresh_chain.block_number()
    with pytest.raises(DeploymentError, match="must be signed by an admin"):
        deploy_city(fresh_chain, deployer, plan, path)
    assert fresh_chain.block_number() == block
    assert Manifest.load(path) == old

    manifest = deploy_city(fresh_chain, admin, plan, path)
    assert manifest.complete
    assert manifest.steps[: len(old.steps)] == old.steps
    assert manifest.steps[len(old.steps) :] == list(PAYMENT_STEPS)
    assert {name: manifest.contracts[name] for name in old.contracts} == old.contracts
    city = City.connect(_settings(fresh_chain, path), path)
    assert city.registry.is_active(city.payments.address)
    assert city.authority.has_role(Role.PAYMENT_OPERATOR, operator.address).is_member
    assert not city.authority.has_role(Role.REGISTRAR, admin.address).is_member
    for function, role in FUNCTION_ROLES["PaymentRouter"].items():
        selector = deploy_module._selector("PaymentRouter", function)
        assert city.authority.target_function_role(city.payments.address, selector) == role
    block = fresh_chain.block_number()
    assert deploy_city(fresh_chain, admin, plan, path) == manifest
    assert fresh_chain.block_number() == block


def test_an_interrupted_router_registration_still_gives_the_registrar_role_back(
    fresh_chain: Chain,
    accounts: list[LocalAccount],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deployer, admin = accounts[0], accounts[1]
    plan = DeployPlan("test", admin.address)
    path = tmp_path / "test.json"
    real_steps = deploy_module.steps

    def crashing_steps() -> list[tuple[str, Run]]:
        steps = real_steps()
        names = [name for name, _ in steps]
        at = names.index("payments.register.PaymentRouter")

        def grant_then_crash(deployment: Deployment) -> None:
            # The registrar role is granted, then the power fails before the registration.
            signer = deployment.deployer
            deployment.authority().grant_role(signer, Role.REGISTRAR, signer.address)
            raise RuntimeError("power cut")

        return [*steps[:at], (names[at], grant_then_crash), *steps[at + 1 :]]

    with monkeypatch.context() as patch:
        patch.setattr(deploy_module, "steps", crashing_steps)
        with pytest.raises(RuntimeError, match="power cut"):
            deploy_city(fresh_chain, deployer, plan, path)
    partial = Manifest.load(path)
    assert partial.temporary_roles == [[int(Role.REGISTRAR), deployer.address]]
    manifest = deploy_city(fresh_chain, deployer, plan, path)
    city = City.at(fresh_chain, manifest)
    assert city.registry.is_active(city.payments.address)
    assert not city.authority.has_role(Role.REGISTRAR, deployer.address).is_member
    assert manifest.temporary_roles == []


def _settings(chain: Chain, path: Path) -> LedgerSettings:
    return LedgerSettings(rpc_url=chain.rpc_url, network=path.stem, deployments_dir=path.parent)


VOTING_STEPS = tuple(step for step, _ in domain_steps(VOTING))


def _assert_voting_deployed(city: City, officer: str, rewards_admin: str) -> None:
    pool = city.registry.registration_of(city.rewards.address)
    assert (pool.kind, pool.status, pool.credential_hash) == (
        AccountKind.CITY_SERVICE,
        AccountStatus.ACTIVE,
        service_credential("RewardsPool"),
    )
    assert city.rewards.token.address == city.token.address
    assert city.elections.election_count() == 0
    voting = city.rewards.programme_id(VOTING_PROGRAMME)
    programme = city.rewards.programme(voting)
    assert programme is not None
    assert (programme.cap_per_period, programme.period_length, programme.active) == (
        VOTING_CAP,
        VOTING_PERIOD,
        True,
    )
    assert programme.budget == 0
    assert city.rewards.is_distributor(voting, officer)
    assert city.authority.has_role(Role.REWARDS_ADMIN, rewards_admin).is_member
    assert city.authority.has_role(Role.ELECTION_ADMIN, officer).is_member
    for target_name in ("Elections", "RewardsPool"):
        target = city.manifest.address(target_name)
        for function, role in FUNCTION_ROLES[target_name].items():
            selector = deploy_module._selector(target_name, function)
            assert city.authority.target_function_role(target, selector) == role, function


def test_deploy_adds_the_elections_and_a_voting_rewards_programme(
    fresh_chain: Chain, accounts: list[LocalAccount], tmp_path: Path
) -> None:
    deployer, admin, officer, rewards_admin = accounts[0], accounts[1], accounts[2], accounts[3]
    plan = DeployPlan(
        "test",
        admin.address,
        grants={
            Role.ELECTION_ADMIN: [(officer.address, 0)],
            Role.REWARDS_ADMIN: [(rewards_admin.address, 0)],
        },
    )
    manifest = deploy_city(fresh_chain, deployer, plan, tmp_path / "test.json")
    assert manifest.steps[-len(VOTING_STEPS) - 1 : -1] == list(VOTING_STEPS)
    city = City.at(fresh_chain, manifest)
    _assert_voting_deployed(city, officer.address, rewards_admin.address)
    assert not city.authority.has_role(Role.REGISTRAR, deployer.address).is_member
    assert not city.authority.has_role(Role.REWARDS_ADMIN, deployer.address).is_member
    assert manifest.temporary_roles == []
    # The deployer kept no way into the pool's programmes after the hand-over.
    with pytest.raises(AccessDeniedError):
        city.rewards.create_programme(deployer, "another", 1, 1)


def test_a_deployment_from_before_the_elections_is_upgraded_by_its_admin(
    fresh_chain: Chain,
    accounts: list[LocalAccount],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    deployer, admin, officer, rewards_admin = accounts[0], accounts[1], accounts[2], accounts[3]
    plan = DeployPlan(
        "test",
        admin.address,
        grants={
            Role.ELECTION_ADMIN: [(officer.address, 0)],
            Role.REWARDS_ADMIN: [(rewards_admin.address, 0)],
        },
    )
    path = tmp_path / "test.json"
    with monkeypatch.context() as patch:
        _without(patch, VOTING_STEPS)
        old = deploy_city(fresh_chain, deployer, plan, path)
    assert old.complete
    assert "Elections" not in old.contracts
    assert "RewardsPool" not in old.contracts
    with pytest.raises(DeploymentError, match="predates the Elections"):
        City.connect(_settings(fresh_chain, path), path)

    block = fresh_chain.block_number()
    with pytest.raises(DeploymentError, match="must be signed by an admin"):
        deploy_city(fresh_chain, deployer, plan, path)
    assert fresh_chain.block_number() == block

    manifest = deploy_city(fresh_chain, admin, plan, path)
    assert manifest.complete
    assert manifest.steps[: len(old.steps)] == old.steps
    assert manifest.steps[len(old.steps) :] == list(VOTING_STEPS)
    assert {name: manifest.contracts[name] for name in old.contracts} == old.contracts
    city = City.connect(_settings(fresh_chain, path), path)
    _assert_voting_deployed(city, officer.address, rewards_admin.address)
    assert not city.authority.has_role(Role.REGISTRAR, admin.address).is_member
    block = fresh_chain.block_number()
    assert deploy_city(fresh_chain, admin, plan, path) == manifest
    assert fresh_chain.block_number() == block


def test_a_manifest_recorded_with_step_labels_is_read_as_ids(
    fresh_chain: Chain, accounts: list[LocalAccount], tmp_path: Path
) -> None:
    """Manifests made before steps had ids recorded their labels: such a finished deployment
    is recognised as finished (verified, nothing sent) and its steps read as ids."""
    plan = DeployPlan("test", accounts[1].address)
    path = tmp_path / "test.json"
    manifest = deploy_city(fresh_chain, accounts[0], plan, path)
    document = json.loads(path.read_text())
    document["steps"] = list(LEGACY_STEPS)  # every label the old deployment recorded, in order
    path.write_text(json.dumps(document))
    block = fresh_chain.block_number()
    again = deploy_city(fresh_chain, accounts[0], plan, path)
    assert fresh_chain.block_number() == block
    assert set(again.steps) == set(manifest.steps)
    assert set(deploy_module._step_ids(list(LEGACY_STEPS))) == {s for s, _ in deploy_module.steps()}
