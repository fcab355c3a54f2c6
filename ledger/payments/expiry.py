"""When an unpaid invoice is past paying, judged from the index (no chain call per invoice)."""

from __future__ import annotations


def invoice_expired(
    valid_until: int, *, now: float, indexed_time: int | None, caught_up: bool, grace: int = 0
) -> bool:
    """Whether an unpaid invoice can no longer be paid, judged from the index.

    The router accepts a payment in a block stamped ``<= valid_until``. Once the index holds a
    block stamped later (``indexed_time``), every payment that could exist is indexed and no
    later block can take one. On an idle chain (no new blocks) it is enough that the wall clock
    is ``grace`` seconds past and the index has every block (``caught_up``): the next block is
    stamped no earlier than now.
    """
    if indexed_time is not None and indexed_time > valid_until:
        return True
    return caught_up and now > valid_until + grace
