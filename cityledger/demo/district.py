"""Demo data for `make up`: the city's contracts deployed on the dev chain and a small district.

Everything here is idempotent (deployment resumes or verifies; registrations and mints are
skipped when already on chain), so `make up` can be run again and again on the same data dir.
Amounts follow docs/workload.md: monthly top-ups under the 30만-50만 KRW cap, a ₩15,000 purchase.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import structlog
from eth_account.signers.local import LocalAccount

from cityledger.demo.devnet import KEYSTORE_DIR, PASSWORD_FILE
from ledger.chain import Chain
from ledger.city import City
from ledger.contracts.registry import credential_hash
from ledger.deploy import DeployPlan, deploy_city
from ledger.domains.voting import VOTING_PROGRAMME
from ledger.keys import KeyStore, write_private
from ledger.roles import Role
from ledger.types import AccountKind, AccountStatus

log = structlog.get_logger("cityledger.demo")

PEPPER_FILE = "credential-pepper"
DEPLOYMENTS_DIR = "deployments"
NETWORK = "local"
LARGE_MINT_DELAY = 3_600

DISTRICTS = (5101, 5102, 5103, 5104)
"""Four demo districts of the 5-1 life zone (codes are ours)."""

MEMBERS: tuple[tuple[str, AccountKind, int], ...] = (
    ("resident-1", AccountKind.RESIDENT, DISTRICTS[0]),
    ("resident-2", AccountKind.RESIDENT, DISTRICTS[1]),
    ("resident-3", AccountKind.RESIDENT, DISTRICTS[2]),
    ("merchant-1", AccountKind.MERCHANT, DISTRICTS[0]),
    ("merchant-2", AccountKind.MERCHANT, DISTRICTS[3]),
    ("city-service", AccountKind.CITY_SERVICE, DISTRICTS[0]),
)
TOP_UPS: tuple[tuple[str, int, str], ...] = (
    ("resident-1", 300_000, "DEMO-DEP-0001"),
    ("resident-2", 200_000, "DEMO-DEP-0002"),
    ("resident-3", 100_000, "DEMO-DEP-0003"),
)
PURCHASE = ("resident-1", "merchant-1", 15_000)
VOTING_BUDGET = (1_000_000, "DEMO-DEP-VOTING")
"""The voting rewards programme's budget: the treasury (registered as a city service, so that it
can hold tokens) is topped up against this deposit and funds the programme with all of it."""
DEMO_INVOICE = 12_000


@dataclass(frozen=True)
class DemoCity:
    city: City
    manifest_path: Path


def seed_demo(data_dir: Path, rpc_url: str) -> DemoCity:
    """Deploy (or verify) the contracts and make sure the demo district exists."""
    keys = KeyStore(data_dir / KEYSTORE_DIR)
    password = (data_dir / PASSWORD_FILE).read_text()

    def signer(alias: str) -> LocalAccount:
        return keys.unlock(alias, password)

    address = keys.address
    admin = signer("admin")
    plan = DeployPlan(
        network=NETWORK,
        admin=admin.address,
        grants={
            Role.TREASURY: [(address("treasury"), 0)],
            Role.TREASURY_LARGE: [(address("treasury"), LARGE_MINT_DELAY)],
            Role.REGISTRAR: [(address("registrar"), 0)],
            Role.MERCHANT_ADMIN: [(address("merchant-admin"), 0)],
            Role.PAYMENT_OPERATOR: [(address("payment-service"), 0)],
            Role.PAUSER: [(admin.address, 0)],
            # Data dirs made before votes existed have no election-admin key: no votes there.
            **(
                {Role.ELECTION_ADMIN: [(address("election-admin"), 0)]}
                if "election-admin" in keys.aliases()
                else {}
            ),
        },
    )
    manifest_path = data_dir / DEPLOYMENTS_DIR / f"{NETWORK}.json"
    chain = Chain(rpc_url)
    city = City.at(chain, deploy_city(chain, admin, plan, manifest_path))
    pepper = _pepper(data_dir / PEPPER_FILE)

    registrar = signer("registrar")
    for alias, kind, district in MEMBERS:
        if city.registry.registration_of(address(alias)).status is AccountStatus.NONE:
            credential = credential_hash(f"demo:{alias}", pepper)
            city.registry.register(registrar, address(alias), kind, district, credential)
            log.info("demo_registered", alias=alias, kind=kind.name.lower())

    treasury = signer("treasury")
    for alias, amount, ref in TOP_UPS:
        if not city.token.deposit_ref_used(ref):
            city.token.mint(treasury, address(alias), amount, ref)
            log.info("demo_minted", alias=alias, amount=amount, ref=ref)

    _fund_voting_rewards(city, registrar, treasury, credential_hash("demo:treasury", pepper))

    payer, payee, amount = PURCHASE
    if not city.token.events(
        "Transfer", argument_filters={"from": address(payer), "to": address(payee)}
    ):
        city.token.transfer(signer(payer), address(payee), amount)
        log.info("demo_purchase", payer=payer, payee=payee, amount=amount)
    return DemoCity(city, manifest_path)


def _fund_voting_rewards(
    city: City, registrar: LocalAccount, treasury: LocalAccount, credential: bytes
) -> None:
    """Give the "voting" rewards programme its demo budget, once."""
    budget, ref = VOTING_BUDGET
    if city.registry.registration_of(treasury.address).status is AccountStatus.NONE:
        city.registry.register(
            registrar, treasury.address, AccountKind.CITY_SERVICE, DISTRICTS[0], credential
        )
    if not city.token.deposit_ref_used(ref):
        city.token.mint(treasury, treasury.address, budget, ref)
    voting = city.rewards.programme_id(VOTING_PROGRAMME)
    programme = city.rewards.programme(voting)
    if programme is not None and programme.funded == 0:
        city.rewards.fund(treasury, voting, budget)
        log.info("demo_rewards_funded", programme=VOTING_PROGRAMME, amount=budget)


def _pepper(path: Path) -> bytes:
    """The demo's secret for credential hashes, made once (mode 0600)."""
    if not path.exists():
        write_private(path, secrets.token_hex(32))
    return path.read_text().encode()


def demo_invoice(api_url: str, merchant_key: str) -> str:
    """An open ₩12,000 invoice of merchant-1 for the README's `wallet pay`, made over the API
    (once per day and till: the idempotency key makes re-runs return the same invoice)."""
    import datetime

    import httpx

    day = datetime.date.today().isoformat()
    answer = httpx.post(
        f"{api_url}/invoices",
        json={"amount": DEMO_INVOICE, "description": "demo: bibimbap set", "valid_for": 86_400},
        headers={"Authorization": f"Bearer {merchant_key}", "Idempotency-Key": f"demo-{day}"},
        timeout=30,
    )
    answer.raise_for_status()
    ref: str = answer.json()["ref"]
    log.info("demo_invoice_created", ref=ref, amount=DEMO_INVOICE)
    return ref


def demo_merchant_key(data_dir: Path, merchant: str, alias: str) -> Path:
    """A merchant API key for the demo, made once (by the API's key policy) and kept in a
    mode-0600 file."""
    from api.cli import key_session
    from api.keys import issue_key, merchant_grant

    path = data_dir / f"{alias}.api-key"
    if not path.exists():
        with key_session(None, data_dir) as session:
            issued = issue_key(session, merchant_grant(session, merchant, label=f"demo {alias}"))
        write_private(path, issued.key + "\n")
    return path
