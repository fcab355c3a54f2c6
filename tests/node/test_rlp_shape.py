"""The RLP shape check accepts exactly the well-formed items pyrlp would walk, iteratively."""

from __future__ import annotations

from typing import Any

import pytest
import rlp
from hypothesis import given
from hypothesis import strategies as st

from ledger.node.rlp_shape import MAX_DEPTH, MalformedRLP, check_rlp_shape

items: st.SearchStrategy[Any] = st.recursive(
    st.binary(max_size=80), lambda inner: st.lists(inner, max_size=6), max_leaves=40
)


def depth(item: Any) -> int:
    return 1 + max(map(depth, item), default=0) if isinstance(item, list) else 0


@given(items)
def test_every_encoded_item_within_the_depth_passes(item: Any) -> None:
    encoded = rlp.encode(item)
    if depth(item) <= MAX_DEPTH:
        check_rlp_shape(encoded)
    else:
        with pytest.raises(MalformedRLP, match="deeper"):
            check_rlp_shape(encoded)


@given(items, st.data())
def test_truncated_or_extended_items_fail(item: Any, data: st.DataObject) -> None:
    encoded = rlp.encode(item)
    cut = data.draw(st.integers(0, len(encoded) - 1))
    with pytest.raises(MalformedRLP):
        check_rlp_shape(encoded[:cut])
    with pytest.raises(MalformedRLP):
        check_rlp_shape(encoded + data.draw(st.binary(min_size=1, max_size=4)))


def test_a_million_nested_lists_fail_fast_without_recursion() -> None:
    with pytest.raises(MalformedRLP, match=f"deeper than {MAX_DEPTH}"):
        check_rlp_shape(b"\xc1" * 1_000_000 + b"\xc0")
