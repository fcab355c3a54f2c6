"""Hypothesis strategies for the city's domain values, shared by the property and stateful tests.

Each strategy mostly draws valid values and, less often, the edge a contract must refuse (kind
``NONE``, a zero credential, a zero amount, one token more than allowed), so refusals are
exercised without drowning the interesting successful paths.
"""

from __future__ import annotations

from typing import Literal, TypeVar

from hypothesis import strategies as st

from ledger.types import AccountKind

T = TypeVar("T")

KINDS = [kind for kind in AccountKind if kind is not AccountKind.NONE]


def _rarely(common: st.SearchStrategy[T], rare: T, one_in: int) -> st.SearchStrategy[T]:
    """``common``, except ``rare`` one draw in ``one_in``. Hypothesis favours small draws, so the
    rare value sits at the top of the range: the simplest examples stay valid ones."""
    return st.tuples(st.integers(min_value=1, max_value=one_in), common).map(
        lambda t: rare if t[0] == one_in else t[1]
    )


account_kinds: st.SearchStrategy[AccountKind] = _rarely(st.sampled_from(KINDS), AccountKind.NONE, 8)
"""A registry account kind; ``NONE`` (refused: ResidentRegistryInvalidKind) one time in 8."""

districts: st.SearchStrategy[int] = st.one_of(
    st.sampled_from([5101, 5102, 5201]), st.integers(min_value=0, max_value=2**32 - 1)
)
"""A district code (uint32): mostly the pilot zones, sometimes any code at all."""

credential_hashes: st.SearchStrategy[bytes] = _rarely(
    st.binary(min_size=31, max_size=31).map(lambda b: b"\x01" + b), bytes(32), 8
)
"""A 32-byte credential hash; the zero hash (refused: ResidentRegistryEmptyCredential) 1 in 8."""


def mint_amounts(limit: int) -> st.SearchStrategy[int]:
    """A mint amount around the token's mint ``limit``: seven times in eight a payable sum, else
    zero, the limit itself, one above it, or far above it."""
    edges = st.sampled_from([0, limit, limit + 1, 10**18])
    return st.tuples(
        st.integers(min_value=1, max_value=8), st.integers(min_value=1, max_value=100_000), edges
    ).map(lambda t: t[2] if t[0] == 8 else t[1])


AmountMode = Literal["part", "all", "over", "zero", "any"]

amount_modes: st.SearchStrategy[AmountMode] = st.sampled_from(
    ["part", "part", "part", "all", "over", "zero", "any"]
)
"""How a movement's amount relates to the mover's balance (see :func:`amount_for`)."""

amount_seeds: st.SearchStrategy[int] = st.integers(min_value=0, max_value=2**24)


def amount_for(mode: AmountMode, seed: int, balance: int) -> int:
    """The amount a movement asks for, given the mover's current ``balance``."""
    if mode == "part":
        return seed % balance + 1 if balance else seed % 3
    if mode == "all":
        return balance
    if mode == "over":
        return balance + 1 + seed % 1_000
    if mode == "zero":
        return 0
    return seed


RefMode = Literal["fresh", "reuse", "empty"]

reference_modes: st.SearchStrategy[RefMode] = st.sampled_from(
    ["fresh", "fresh", "fresh", "fresh", "fresh", "fresh", "reuse", "empty"]
)
"""Which bank reference a mint or redemption names: a new one, one already used, or zero."""
