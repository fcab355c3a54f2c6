"""What every contract wrapper shares: its artifact, address, reads and sends via Chain."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any, ClassVar

from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils import event_abi_to_log_topic, to_checksum_address
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import Web3RPCError
from web3.types import EventData, RPCEndpoint, TxReceipt

from ledger.chain import Chain
from ledger.contracts.artifacts import Artifact, load_artifact
from ledger.exceptions import ChainError

LOG_WINDOW = 5_000
"""Blocks per eth_getLogs query to start with."""

Topic = str | list[str] | None
"""One eth_getLogs topic position: a 0x-hex word, any of several, or anything (None)."""


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

    def _send(
        self, signer: LocalAccount, name: str, *args: Any, gas: int | None = None
    ) -> TxReceipt:
        return self.chain.transact(signer, self._fn(name, *args), gas=gas)

    def topic0(self, event: str) -> str:
        """The 0x-hex topic0 (signature hash) of ``event`` in this contract's ABI."""
        (entry,) = [
            e
            for e in city_artifact(self.ARTIFACT).abi
            if e.get("type") == "event" and e["name"] == event
        ]
        return "0x" + event_abi_to_log_topic(entry).hex()  # type: ignore[arg-type]

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

    def raw_logs(
        self,
        topics: Sequence[Topic],
        *,
        from_block: int = 0,
        to_block: int | None = None,
    ) -> list[dict[str, Any]]:
        """This contract's logs matching ``topics``, as the node sends them (hex strings, no
        decoding): for readers of many logs, which cut the data themselves far faster than
        web3's ``process_log``. Windowed and halved on refusal like :meth:`events`."""
        last = self.chain.block_number() if to_block is None else to_block
        provider = self.chain.w3.provider
        found: list[dict[str, Any]] = []
        start, window = from_block, LOG_WINDOW
        while start <= last:
            end = min(start + window - 1, last)
            query = {
                "address": self.address,
                "fromBlock": hex(start),
                "toBlock": hex(end),
                "topics": list(topics),
            }
            with self.chain.rpc_errors():
                answer = provider.make_request(RPCEndpoint("eth_getLogs"), [query])
            error = answer.get("error")
            if error is not None:
                if window == 1:
                    message = error.get("message", error) if isinstance(error, dict) else error
                    raise ChainError(f"the node refused eth_getLogs: {message}")
                window = max(1, window // 2)
                continue
            found.extend(answer["result"])
            start = end + 1
        return found

    def block_timestamps(self, numbers: Iterable[int]) -> dict[int, int]:
        """The timestamps of blocks ``numbers`` (batched eth_getBlockByNumber)."""
        wanted = sorted(set(numbers))
        calls = [("eth_getBlockByNumber", [hex(n), False]) for n in wanted]
        stamps: dict[int, int] = {}
        for number, answer in zip(wanted, self.chain.batch(calls, "block reads"), strict=True):
            block = answer.get("result")
            if not block:
                raise ChainError(f"the node has no block {number}: {answer.get('error')}")
            stamps[number] = int(block["timestamp"], 16)
        return stamps
