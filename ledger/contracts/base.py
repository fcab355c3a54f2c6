"""What every contract wrapper shares: its artifact, address, reads and sends via Chain."""

from __future__ import annotations

from functools import cache
from typing import Any, ClassVar

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils import to_checksum_address
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import Web3RPCError
from web3.types import EventData, TxReceipt

from ledger.chain import Chain
from ledger.contracts.artifacts import Artifact, load_artifact
from ledger.exceptions import ChainError

LOG_WINDOW = 5_000
"""Blocks per eth_getLogs query to start with."""


@cache
def city_artifact(name: str) -> Artifact:
    """Artifacts are read once per process."""
    return load_artifact(name)


class ContractWrapper:
    """One deployed contract; subclasses name their artifact and add typed methods."""

    ARTIFACT: ClassVar[str]

    def __init__(self, chain: Chain, address: str) -> None:
        self.chain = chain
        self.address: ChecksumAddress = to_checksum_address(address)
        self.contract: Contract = chain.contract(self.address, city_artifact(self.ARTIFACT).abi)

    def _fn(self, name: str, *args: Any) -> ContractFunction:
        function: ContractFunction = getattr(self.contract.functions, name)(*args)
        return function

    def _read(self, name: str, *args: Any) -> Any:
        return self.chain.call(self._fn(name, *args))

    def _send(self, signer: LocalAccount, name: str, *args: Any) -> TxReceipt:
        return self.chain.transact(signer, self._fn(name, *args))

    def calldata(self, name: str, *args: Any) -> bytes:
        """ABI-encoded call data (to schedule an operation through the AccessManager)."""
        return bytes.fromhex(self._fn(name, *args)._encode_transaction_data()[2:])

    def events(
        self,
        event: str,
        *,
        from_block: int = 0,
        to_block: int | None = None,
        argument_filters: dict[str, Any] | None = None,
    ) -> list[EventData]:
        """Decoded logs of ``event`` from this contract (eth_getLogs, topic-filtered).

        Nodes cap the block range of one query (the embedded node at 10,000 blocks, Besu and
        hosted nodes at their own limits), so the range is read in windows, halved whenever
        the node refuses one.
        """
        last = self.chain.block_number() if to_block is None else to_block
        found: list[EventData] = []
        start, window = from_block, LOG_WINDOW
        while start <= last:
            end = min(start + window - 1, last)
            try:
                with self.chain.rpc_errors():
                    logs = getattr(self.contract.events, event)().get_logs(
                        from_block=start, to_block=end, argument_filters=argument_filters
                    )
            except Web3RPCError as exc:
                if window == 1:
                    raise ChainError(f"the node refused eth_getLogs: {exc.message}") from exc
                window = max(1, window // 2)
                continue
            found.extend(logs)
            start = end + 1
        return found
