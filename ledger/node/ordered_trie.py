"""Transaction and receipt tries, built bottom-up with every node encoded and hashed once.

A block's transactions root is the root of the trie mapping ``rlp(index) → item``. py-evm
builds it by inserting the items one by one into a HexaryTrie, which re-encodes and re-hashes
the path for each insert; that was a fifth of the sealer's time. Here all keys are known up
front, so the trie is built recursively from the sorted keys (as geth's StackTrie does).
The result — root and node dictionary — is the same, which a property test checks against
py-evm's ``make_trie_root_and_nodes``.
"""

from __future__ import annotations

from collections.abc import Sequence

import rlp
from eth.constants import BLANK_ROOT_HASH
from eth_typing import Hash32
from eth_utils import keccak
from trie.utils.nibbles import add_nibbles_terminator, bytes_to_nibbles, encode_nibbles

Node = list[object]
Item = tuple[tuple[int, ...], bytes]


def ordered_trie(values: Sequence[bytes]) -> tuple[Hash32, dict[Hash32, bytes]]:
    """Root hash and nodes (hash → encoding) of the trie ``rlp(i) → values[i]``."""
    items = sorted(
        (bytes_to_nibbles(rlp.encode(index)), value)
        for index, value in enumerate(values)
        if value  # as in HexaryTrie, setting an empty value is no entry at all
    )
    if not items:
        return BLANK_ROOT_HASH, {}
    nodes: dict[Hash32, bytes] = {}
    encoded = rlp.encode(_build(items, 0, nodes))
    root = Hash32(keccak(encoded))  # the root is stored by hash even when it is short
    nodes[root] = encoded
    return root, nodes


def _build(items: Sequence[Item], depth: int, nodes: dict[Hash32, bytes]) -> Node:
    if len(items) == 1:
        path, value = items[0]
        return [encode_nibbles(tuple(add_nibbles_terminator(path[depth:]))), value]
    first, last = items[0][0], items[-1][0]
    shared = 0
    # Keys are sorted, so what the first and last share, all share.
    while (
        depth + shared < len(first)
        and depth + shared < len(last)
        and first[depth + shared] == last[depth + shared]
    ):
        shared += 1
    if shared:
        child = _build(items, depth + shared, nodes)
        return [encode_nibbles(first[depth : depth + shared]), _reference(child, nodes)]
    branch: Node = [b""] * 17
    start = 0
    if len(items[0][0]) == depth:  # a key that ends here (shorter keys sort first)
        branch[16] = items[0][1]
        start = 1
    while start < len(items):
        nibble = items[start][0][depth]
        end = start
        while end < len(items) and items[end][0][depth] == nibble:
            end += 1
        branch[nibble] = _reference(_build(items[start:end], depth + 1, nodes), nodes)
        start = end
    return branch


def _reference(node: Node, nodes: dict[Hash32, bytes]) -> object:
    """A child is embedded if its encoding is under 32 bytes, else referenced by hash."""
    encoded = rlp.encode(node)
    if len(encoded) < 32:
        return node
    digest = Hash32(keccak(encoded))
    nodes[digest] = encoded
    return digest
