"""The node's shared jump analysis (ledger.node.vm.jump_analysis) answers as a linear scan of
the code does, however many executions of the same code have filled it, in whatever order."""

from __future__ import annotations

from eth.vm.code_stream import CodeStream
from hypothesis import given
from hypothesis import strategies as st

from ledger.node.vm import jump_analysis

PUSH1, PUSH32, JUMPDEST = 0x60, 0x7F, 0x5B

codes = st.lists(
    st.one_of(
        st.sampled_from([PUSH1, PUSH1 + 1, PUSH32, JUMPDEST, 0x00, 0x56]), st.integers(0, 255)
    ),
    max_size=120,
).map(bytes)


def opcode_positions(code: bytes) -> set[int]:
    """Where opcodes start: every byte that is not the data of a PUSH before it."""
    positions, index = set(), 0
    while index < len(code):
        positions.add(index)
        opcode = code[index]
        index += 1 + (opcode - PUSH1 + 1 if PUSH1 <= opcode <= PUSH32 else 0)
    return positions


def shared_stream(code: bytes) -> CodeStream:
    stream = CodeStream(code)
    stream.valid_positions, stream.invalid_positions = jump_analysis(code)
    return stream


@given(codes, st.lists(st.integers(0, 130), max_size=40), st.lists(st.integers(0, 130)))
def test_shared_analysis_matches_a_linear_scan(
    code: bytes, earlier: list[int], asked: list[int]
) -> None:
    truth = opcode_positions(code)
    first = shared_stream(code)
    for position in earlier:  # an earlier execution fills the shared sets in its own order
        first.is_valid_opcode(position)
    second = shared_stream(code)
    for position in asked:
        assert second.is_valid_opcode(position) == (position in truth)


def test_one_analysis_per_code() -> None:
    code = bytes([PUSH1, JUMPDEST, JUMPDEST])
    assert jump_analysis(code) is jump_analysis(bytes(code))
    assert jump_analysis(code) is not jump_analysis(code + b"\x00")
