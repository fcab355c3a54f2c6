"""What every contract wrapper shares: its artifact, address, reads and sends via Chain."""

from __future__ import annotations

from functools import cache
from typing import Any, ClassVar

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils import to_checksum_address
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.types import EventData, TxReceipt

from ledger.chain import Chain
from ledger.contracts.artifacts import Artifact, load_artifact


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
        to_block: int | str = "latest",
        argument_filters: dict[str, Any] | None = None,
    ) -> list[EventData]:
        """Decoded logs of ``event`` from this contract (eth_getLogs, topic-filtered)."""
        with self.chain.rpc_errors():
            logs = getattr(self.contract.events, event)().get_logs(
                from_block=from_block, to_block=to_block, argument_filters=argument_filters
            )
        return list(logs)
