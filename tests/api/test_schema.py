"""Property-based run over the OpenAPI schema (schemathesis) against the live API on uvicorn,
as a merchant, as a resident and without credentials (sign-in included), with valid and with
invalid inputs: no generated request makes a 5xx, and every documented response matches its
schema.

schemathesis's lazy pytest loader does not work with pytest 9 (it reads ``Function._nodeid``),
so each operation's hypothesis strategy is driven here directly; every finding of every
operation is collected and reported together.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, response_schema_conformance

from cityledger.testing.api import ApiServer, World, sign_in

EXAMPLES = 25


@pytest.fixture(scope="module")
def credentials(world: World, api: ApiServer) -> dict[str, str]:
    world.index()
    with api.client() as client:
        resident = sign_in(client, world.resident_1)
    return {"merchant": world.key(world.merchant_a), "resident": resident, "anonymous": ""}


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize("who", ["merchant", "resident", "anonymous"])
def test_api_conforms_to_its_schema(
    api: ApiServer, credentials: dict[str, str], who: str, mode: GenerationMode
) -> None:
    schema = schemathesis.openapi.from_url(f"{api.url}/openapi.json")
    headers = {"Authorization": f"Bearer {credentials[who]}"} if credentials[who] else {}
    findings: list[str] = []
    statuses: Counter[int] = Counter()
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]
        operations += 1

        @given(case=operation.as_strategy(mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: Any) -> None:
            response = case.call_and_validate(
                headers=headers, checks=[not_a_server_error, response_schema_conformance]
            )
            statuses[response.status_code] += 1

        try:
            check()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # nothing to get wrong (no parameters)
        except Exception as exc:  # a check failed: note it, test every operation anyway
            findings.append(f"{operation.label}: {exc}"[:3000])
    assert operations >= 20
    if mode is GenerationMode.POSITIVE and who != "anonymous":
        assert statuses[200] + statuses[201] > 20  # past validation, not only refusals
    if who == "anonymous" and mode is GenerationMode.POSITIVE:
        assert statuses[201] > 0  # sign-in nonces were issued: the auth routes were exercised
    assert not findings, "\n\n".join(findings)
