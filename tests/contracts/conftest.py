"""Fixtures of the contract suites: more allowlisted accounts, and residents handed out once.

The root conftest funds and allowlists ``accounts`` on every node it starts; the contract suites
need more senders than its twelve (residents who pay, redeem, sign permits, lose keys), so this
conftest widens the list for the tests below it. The first accounts are the same ones, so the
first five staff of ``test_city``/``anvil_city`` (deployer, admin, treasury, registrar, pauser)
and the first people do not change; the merchant admin and the payment operator are always the
last two accounts of the list.
"""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount

from cityledger.testing.accounts import make_accounts

CONTRACT_SUITE_ACCOUNTS = 66
"""7 staff accounts (5 first, 2 last) + 59 people per deployed city."""


@pytest.fixture(scope="session")
def accounts() -> list[LocalAccount]:
    return make_accounts(CONTRACT_SUITE_ACCOUNTS)
