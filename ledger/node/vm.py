"""The chain's rules: py-evm's Prague VM with a configurable contract size limit.

Besu lets a permissioned network raise EIP-170's 24 KiB contract size limit
(``contractSizeLimit`` in its genesis); this is the same knob for the embedded node. Initcode
may be twice the limit, as EIP-3860 ties it to EIP-170.

Executions that run under a wall-clock budget (``ledger.node.budget``: RPC calls, never
blocks) check it from the interpreter loop and from pure-Python precompiles.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from eth.abc import (
    ComputationAPI,
    MessageAPI,
    SignedTransactionAPI,
    StateAPI,
    TransactionContextAPI,
)
from eth.chains.base import Chain
from eth.constants import GAS_TX
from eth.exceptions import OutOfGas
from eth.vm.code_stream import CodeStream
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.computation import PragueComputation
from eth.vm.forks.prague.constants import STANDARD_TOKEN_COST, TOTAL_COST_FLOOR_PER_TOKEN
from eth.vm.forks.prague.state import PragueState
from eth.vm.opcode_values import STOP
from eth_typing import Address

from ledger.node.budget import CHECK_EVERY, checked_python, current_budget

_JUMP_ANALYSIS_CODES = 1_024
"""Distinct contract codes whose jump analysis is kept: a city runs a few dozen, and at the
default 24 KiB size limit the keys stay under 25 MB. Initcode is not kept (it runs once)."""
_jump_analysis: dict[bytes, tuple[set[int], set[int]]] = {}


def jump_analysis(code: bytes) -> tuple[set[int], set[int]]:
    """The (valid, invalid) jump-target sets shared by every execution of ``code``.

    py-evm works out lazily whether a jump target is an opcode or PUSH data, and starts over
    for every call frame: the same token and router code was re-analysed in every call of
    every transaction (~8% of the node's CPU in the payments benchmark). The answer depends
    on the code alone, so it is shared; two threads filling a set concurrently add the same
    facts.
    """
    shared = _jump_analysis.get(code)
    if shared is None:
        if len(_jump_analysis) >= _JUMP_ANALYSIS_CODES:
            _jump_analysis.clear()
        shared = _jump_analysis.setdefault(code, (set(), set()))
    return shared


class BudgetedCodeStream(CodeStream):
    """py-evm's code stream, checking the running execution's budget every CHECK_EVERY opcodes.

    A frame's stream becomes one of these (same slots, so ``__class__`` can be swapped) only
    when a budget is set, so sealing keeps py-evm's own loop.
    """

    __slots__ = ()

    def __iter__(self) -> Iterator[int]:
        budget = current_budget()
        code = self._raw_code_bytes
        countdown = CHECK_EVERY
        while True:
            try:
                opcode = code[self.program_counter]
            except IndexError:
                break
            self.program_counter += 1
            countdown -= 1
            if not countdown:
                countdown = CHECK_EVERY
                if budget is not None:
                    budget.checkpoint()
            yield opcode
        yield STOP


Precompile = Callable[[ComputationAPI], Any]


def _budgeted(precompile: Precompile) -> Precompile:
    """``precompile`` checking the running budget before it starts and while it runs."""

    def run(computation: ComputationAPI) -> Any:
        budget = current_budget()
        if budget is None:
            return precompile(computation)
        budget.checkpoint()
        with checked_python(budget):
            return precompile(computation)

    return run


def build_chain_class(chain_id: int, contract_size_limit: int) -> type[Chain]:
    """Return a py-evm ``Chain`` class running Prague from block 0 with our limits."""

    class CityComputation(PragueComputation):
        def __init__(
            self,
            state: StateAPI,
            message: MessageAPI,
            transaction_context: TransactionContextAPI,
        ) -> None:
            super().__init__(state, message, transaction_context)
            if current_budget() is not None:
                self.code.__class__ = BudgetedCodeStream
            if message.is_create:
                return  # initcode runs once: nothing to share
            valid, invalid = jump_analysis(bytes(message.code))
            self.code.valid_positions = valid  # type: ignore[attr-defined]
            self.code.invalid_positions = invalid  # type: ignore[attr-defined]

        @property
        def precompiles(self) -> dict[Address, Precompile]:
            if current_budget() is None:
                return super().precompiles
            return budgeted_precompiles

        @classmethod
        def validate_contract_code(cls, contract_code: bytes) -> None:
            if len(contract_code) > contract_size_limit:
                raise OutOfGas(
                    f"contract code size {len(contract_code)} exceeds the chain's limit of "
                    f"{contract_size_limit} bytes"
                )

        @classmethod
        def validate_create_message(cls, message: MessageAPI) -> None:
            if len(message.code) > 2 * contract_size_limit:
                raise OutOfGas(
                    f"initcode size {len(message.code)} exceeds the chain's limit of "
                    f"{2 * contract_size_limit} bytes"
                )

    budgeted_precompiles = {
        address: _budgeted(precompile)
        for address, precompile in PragueComputation.get_precompiles().items()
    }

    class CityState(PragueState):
        computation_class = CityComputation

    class CityVM(PragueVM):
        _state_class = CityState

    return Chain.configure(
        __name__="CityChain",
        vm_configuration=((0, CityVM),),
        chain_id=chain_id,
    )


def calldata_floor_gas(data: bytes) -> int:
    """EIP-7623's floor: a Prague transaction pays at least this much for its calldata.

    py-evm applies the floor only after execution (and then reports gas used above the gas
    limit), so admission and gas estimates check it up front, as geth's pool does.
    """
    zeros = data.count(0)
    tokens = zeros + (len(data) - zeros) * STANDARD_TOKEN_COST
    return int(GAS_TX + TOTAL_COST_FLOOR_PER_TOKEN * tokens)


def minimum_gas(tx: SignedTransactionAPI) -> int:
    """The least gas limit ``tx`` may carry: intrinsic gas or the calldata floor."""
    return max(int(tx.intrinsic_gas), calldata_floor_gas(tx.data))
