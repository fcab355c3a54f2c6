"""A deployed city for tests: contracts on a real node, staff accounts holding their roles."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eth_account.signers.local import LocalAccount

from ledger.chain import Chain
from ledger.city import City
from ledger.deploy import DeployPlan, deploy_city
from ledger.roles import Role

LARGE_MINT_DELAY = 30
"""Seconds a TREASURY_LARGE mint must wait after being scheduled."""


@dataclass(frozen=True)
class TestCity:
    __test__ = False  # not a pytest class

    city: City
    manifest_path: Path
    deployer: LocalAccount
    admin: LocalAccount
    treasury: LocalAccount
    registrar: LocalAccount
    pauser: LocalAccount
    people: list[LocalAccount]
    """Accounts without roles, for residents and merchants."""
    merchant_admin: LocalAccount
    """Sets the PaymentRouter's fees and merchant categories (MERCHANT_ADMIN)."""
    payment_operator: LocalAccount
    """The city's payment service: cancels invoices for merchants (PAYMENT_OPERATOR)."""

    @property
    def url(self) -> str:
        return self.city.chain.rpc_url


def deploy_test_city(url: str, accounts: list[LocalAccount], manifest_path: Path) -> TestCity:
    """accounts[0] deploys; [1] admin, [2] treasury, [3] registrar, [4] pauser; the last two are
    the merchant admin and the payment operator; the rest in between are people (so appending
    accounts to a list never changes who the first people are)."""
    deployer, admin, treasury, registrar, pauser, *people, merchant_admin, payment_operator = (
        accounts
    )
    plan = DeployPlan(
        network=manifest_path.stem,
        admin=admin.address,
        mint_limit=1_000_000,
        grants={
            Role.TREASURY: [(treasury.address, 0)],
            Role.TREASURY_LARGE: [(treasury.address, LARGE_MINT_DELAY)],
            Role.REGISTRAR: [(registrar.address, 0)],
            Role.PAUSER: [(pauser.address, 0)],
            Role.MERCHANT_ADMIN: [(merchant_admin.address, 0)],
            Role.PAYMENT_OPERATOR: [(payment_operator.address, 0)],
        },
    )
    chain = Chain(url)
    manifest = deploy_city(chain, deployer, plan, manifest_path)
    return TestCity(
        City.at(chain, manifest),
        manifest_path,
        deployer,
        admin,
        treasury,
        registrar,
        pauser,
        people,
        merchant_admin,
        payment_operator,
    )
