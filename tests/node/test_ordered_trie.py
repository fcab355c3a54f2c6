"""The bottom-up trie builder agrees with py-evm's HexaryTrie on root and nodes."""

from __future__ import annotations

from eth.db.trie import _make_trie_root_and_nodes
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.node.ordered_trie import ordered_trie


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(min_size=0, max_size=120), max_size=300))
def test_same_root_and_nodes_as_py_evm(values: list[bytes]) -> None:
    expected_root, expected_nodes = _make_trie_root_and_nodes.__wrapped__(tuple(values))
    root, nodes = ordered_trie(values)
    assert root == expected_root
    assert nodes == expected_nodes


def test_boundaries_of_the_index_encoding() -> None:
    """rlp(index) changes length at 128 and 256: keys 0x80, 0x01..0x7f, 0x81xx, 0x82xxxx."""
    for count in (1, 2, 127, 128, 129, 255, 256, 257, 1000):
        values = [i.to_bytes(4, "big") * 9 for i in range(count)]
        assert ordered_trie(values) == _make_trie_root_and_nodes.__wrapped__(tuple(values))
