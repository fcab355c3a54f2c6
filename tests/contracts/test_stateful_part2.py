"""The stateful test of the city's contracts, part 2 of 2: its own node and city, half of the
steps (see tests/contracts/stateful.py and docs/testing.md). The parts are separate modules so
that ``make test`` (pytest-xdist, ``--dist loadfile``) runs them on different workers."""

from tests.contracts.stateful import part

PART = part(2)
world = PART.world
test_random_operations_keep_the_invariants_and_the_rules = PART.steps
test_every_rule_was_seen_succeeding_and_refused = PART.coverage
test_every_account_ever_touched_adds_up_to_the_supply_with_one_reference_per_change = PART.audit
