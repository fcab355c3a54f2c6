"""Check the shape of untrusted RLP before a recursive decoder sees it.

pyrlp decodes recursively, one Python frame per nesting level; with the recursion limit that
py_ecc sets (100,000), a raw transaction of nested lists made the decoder raise RecursionError
(an internal error, where a client should get "invalid params") or run deep on the C stack.
A transaction never nests deeper than four lists (transaction, access list, entry, storage
keys), so a walk without recursion that proves the bytes are one well-formed item nesting at
most :data:`MAX_DEPTH` lists is enough to make decoding safe. Canonical-form rules (no leading
zeros in lengths, short strings in short form) are left to pyrlp's strict decoder.
"""

from __future__ import annotations

MAX_DEPTH = 8
"""Twice what any supported transaction type needs."""

_SHORT_STRING = 0x80
_LONG_STRING = 0xB8
_SHORT_LIST = 0xC0
_LONG_LIST = 0xF8


class MalformedRLP(ValueError):
    """The bytes are not exactly one RLP item of acceptable depth; ``str()`` says why."""


def check_rlp_shape(data: bytes, *, max_depth: int = MAX_DEPTH) -> None:
    """Raise :class:`MalformedRLP` unless ``data`` is one complete RLP item whose lists nest
    at most ``max_depth`` deep (lengths consistent, nothing before or after it)."""
    if not data:
        raise MalformedRLP("no RLP item")
    ends: list[int] = []  # end offsets of the lists we are inside, innermost last
    position = 0
    while True:
        while ends and position == ends[-1]:
            ends.pop()
        if position >= len(data):
            if position == len(data) and not ends:
                return
            raise MalformedRLP("an item is longer than the data")
        if ends and position > ends[-1]:
            raise MalformedRLP(f"an item ends past its enclosing list at byte {position}")
        if not ends and position:
            raise MalformedRLP(f"trailing bytes after the item at byte {position}")
        start, length, is_list = _header(data, position)
        if is_list:
            if len(ends) >= max_depth:
                raise MalformedRLP(f"lists nest deeper than {max_depth} levels")
            ends.append(start + length)
            position = start
        else:
            position = start + length


def _header(data: bytes, position: int) -> tuple[int, int, bool]:
    """(payload start, payload length, is a list) of the item at ``position``."""
    prefix = data[position]
    if prefix < _SHORT_STRING:
        return position, 1, False
    if prefix < _LONG_STRING:
        return position + 1, prefix - _SHORT_STRING, False
    if prefix < _SHORT_LIST:
        return _long(data, position, prefix - _LONG_STRING + 1, is_list=False)
    if prefix < _LONG_LIST:
        return position + 1, prefix - _SHORT_LIST, True
    return _long(data, position, prefix - _LONG_LIST + 1, is_list=True)


def _long(data: bytes, position: int, size_bytes: int, *, is_list: bool) -> tuple[int, int, bool]:
    start = position + 1 + size_bytes
    if start > len(data):
        raise MalformedRLP(f"a length at byte {position} runs past the data")
    return start, int.from_bytes(data[position + 1 : start], "big"), is_list
