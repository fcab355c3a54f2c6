"""Fixtures of the contract suites: more allowlisted accounts, and residents handed out once.

The root conftest funds and allowlists ``accounts`` on every node it starts; the contract suites
need more senders than its ten (residents who pay, redeem, sign permits, lose keys), so this
conftest widens the list for the tests below it. The first ten accounts are the same ones, so
the staff of ``test_city``/``anvil_city`` (deployer, admin, treasury, registrar, pauser) do not
change.
"""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount

from tests.support.accounts import make_accounts

CONTRACT_SUITE_ACCOUNTS = 64
"""5 staff accounts + 59 people per deployed city."""


@pytest.fixture(scope="session")
def accounts() -> list[LocalAccount]:
    return make_accounts(CONTRACT_SUITE_ACCOUNTS)
