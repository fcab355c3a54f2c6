"""Pull block headers and the city's logs from any JSON-RPC node, in batches.

Only standard methods are used (``eth_chainId``, ``eth_blockNumber``, ``eth_getBlockByNumber``,
``eth_getLogs``, ``eth_call``), sent as JSON-RPC batches over one pooled HTTP connection: the
embedded node, anvil and Besu all accept batches. A node that refuses an ``eth_getLogs`` range
(too many blocks or results) gets the range halved until it answers.

:meth:`Extractor.fetch` returns a *consistent* range: the headers must link by parent hash,
every log's block hash must be the header's, and the last block must still be canonical after
the logs were read. If the chain moved under the reads (a reorg while fetching) it reads again.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from eth_utils import to_checksum_address

from ledger.exceptions import ChainError, ChainUnavailableError

ZERO_HASH = "0x" + "00" * 32
HEADERS_PER_REQUEST = 500
"""Requests per JSON-RPC batch (the embedded node accepts 1,000, Besu 1,024 by default)."""
LOG_WINDOW = 10_000
"""Blocks per eth_getLogs query to start with; halved while the node refuses."""
FETCH_ATTEMPTS = 5


class RpcError(ChainError):
    """The node answered a call with a JSON-RPC error object."""

    def __init__(self, method: str, code: int, message: str) -> None:
        super().__init__(f"{method}: {message} (JSON-RPC error {code})")
        self.method = method
        self.code = code
        self.message = message


class ChainMovedError(ChainError):
    """The chain changed while a range was being read (it is read again)."""


class RpcClient:
    """JSON-RPC 2.0 over HTTP with batches; transport failures become ChainUnavailableError."""

    def __init__(self, url: str, *, timeout: float = 60.0, max_batch: int = HEADERS_PER_REQUEST):
        self.url = url
        self.max_batch = max_batch
        self._client = httpx.Client(timeout=timeout)
        self._ids = itertools.count(1)
        self._batches_supported = True

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> RpcClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _post(self, body: Any) -> Any:
        try:
            response = self._client.post(self.url, json=body)
        except httpx.TimeoutException as exc:
            raise ChainUnavailableError(f"the chain node at {self.url} timed out") from exc
        except httpx.HTTPError as exc:
            raise ChainUnavailableError(
                f"cannot reach the chain node at {self.url} (is it running?): {exc}"
            ) from exc
        try:
            return response.json()
        except json.JSONDecodeError as exc:
            raise ChainError(
                f"{self.url} answered HTTP {response.status_code} without JSON-RPC: "
                f"{response.text[:200]!r}"
            ) from exc

    def call(self, method: str, *params: Any) -> Any:
        document = self._post(
            {"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": list(params)}
        )
        return _result(method, document)

    def batch(self, calls: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """Results in call order; the first error raises :class:`RpcError`."""
        results: list[Any] = []
        for start in range(0, len(calls), self.max_batch):
            chunk = calls[start : start + self.max_batch]
            if not self._batches_supported:
                results.extend(self.call(method, *params) for method, params in chunk)
                continue
            first = next(self._ids)
            body = [
                {"jsonrpc": "2.0", "id": first + i, "method": method, "params": list(params)}
                for i, (method, params) in enumerate(chunk)
            ]
            self._ids = itertools.count(first + len(chunk))
            document = self._post(body)
            if not isinstance(document, list):
                # A node without batch support answers one error object: fall back for good.
                self._batches_supported = False
                results.extend(self.call(method, *params) for method, params in chunk)
                continue
            by_id = {answer.get("id"): answer for answer in document}
            for i, (method, _) in enumerate(chunk):
                answer = by_id.get(first + i)
                if answer is None:
                    raise ChainError(f"{self.url} left {method} out of its batch answer")
                results.append(_result(method, answer))
        return results


def _result(method: str, document: Any) -> Any:
    if not isinstance(document, dict):
        raise ChainError(f"{method}: malformed JSON-RPC answer {document!r:.200}")
    error = document.get("error")
    if error is not None:
        raise RpcError(method, int(error.get("code", 0)), str(error.get("message", error)))
    return document.get("result")


@dataclass(frozen=True, slots=True)
class Header:
    number: int
    hash: str
    parent_hash: str
    timestamp: int

    @classmethod
    def from_json(cls, block: dict[str, Any]) -> Header:
        return cls(
            int(block["number"], 16),
            block["hash"].lower(),
            block["parentHash"].lower(),
            int(block["timestamp"], 16),
        )


@dataclass(frozen=True, slots=True)
class RawLog:
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    address: str
    """Lowercase hex, as nodes send it (the decoder maps it to the contract)."""
    topics: tuple[str, ...]
    data: str

    @classmethod
    def from_json(cls, entry: dict[str, Any]) -> RawLog:
        return cls(
            int(entry["blockNumber"], 16),
            entry["blockHash"].lower(),
            entry["transactionHash"].lower(),
            int(entry["logIndex"], 16),
            entry["address"].lower(),
            tuple(topic.lower() for topic in entry["topics"]),
            entry["data"],
        )


@dataclass(frozen=True, slots=True)
class Batch:
    """Blocks ``start..end`` (inclusive): every header, and the city's logs in chain order."""

    start: int
    end: int
    headers: list[Header]
    logs: list[RawLog]

    @property
    def parent_hash(self) -> str:
        return self.headers[0].parent_hash


class Extractor:
    """Reads ranges of the chain for a fixed set of contract addresses."""

    def __init__(
        self, rpc: RpcClient, addresses: Iterable[str], *, log_window: int = LOG_WINDOW
    ) -> None:
        self.rpc = rpc
        self.addresses = sorted(to_checksum_address(a) for a in addresses)
        self.log_window = log_window

    def chain_id(self) -> int:
        return int(self.rpc.call("eth_chainId"), 16)

    def head(self) -> int:
        return int(self.rpc.call("eth_blockNumber"), 16)

    def header(self, number: int) -> Header | None:
        block = self.rpc.call("eth_getBlockByNumber", hex(number), False)
        return None if block is None else Header.from_json(block)

    def headers(self, numbers: Sequence[int]) -> list[Header | None]:
        blocks = self.rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
        return [None if block is None else Header.from_json(block) for block in blocks]

    def logs(self, start: int, end: int) -> list[RawLog]:
        """The contracts' logs in ``start..end``, splitting ranges the node refuses."""
        found: list[RawLog] = []
        pending = [
            (s, min(s + self.log_window - 1, end)) for s in range(start, end + 1, self.log_window)
        ]
        while pending:
            low, high = pending.pop(0)
            try:
                entries = self.rpc.call(
                    "eth_getLogs",
                    {"fromBlock": hex(low), "toBlock": hex(high), "address": self.addresses},
                )
            except RpcError as exc:
                if low == high:
                    raise ChainError(
                        f"the node refused eth_getLogs for block {low}: {exc}"
                    ) from exc
                middle = (low + high) // 2
                pending[:0] = [(low, middle), (middle + 1, high)]
                # Later windows start at the size that worked, not the one refused.
                self.log_window = max(1, min(self.log_window, middle - low + 1))
                continue
            found.extend(RawLog.from_json(e) for e in entries if not e.get("removed", False))
        found.sort(key=lambda log: (log.block_number, log.log_index))
        return found

    def fetch(self, start: int, end: int) -> Batch:
        """A consistent read of blocks ``start..end`` (see the module docstring)."""
        for attempt in range(FETCH_ATTEMPTS):
            try:
                return self._fetch_once(start, end)
            except ChainMovedError:
                if attempt == FETCH_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _fetch_once(self, start: int, end: int) -> Batch:
        found = self.headers(range(start, end + 1))
        headers: list[Header] = []
        for number, header in zip(range(start, end + 1), found, strict=True):
            if header is None:
                raise ChainMovedError(f"block {number} is gone (the chain is shorter now)")
            if headers and header.parent_hash != headers[-1].hash:
                raise ChainMovedError(f"block {number} does not extend block {number - 1}")
            headers.append(header)
        logs = self.logs(start, end)
        by_number = {h.number: h.hash for h in headers}
        for log in logs:
            if by_number.get(log.block_number) != log.block_hash:
                raise ChainMovedError(f"a log of block {log.block_number} is from another fork")
        last = self.header(end)
        if last is None or last.hash != headers[-1].hash:
            raise ChainMovedError(f"block {end} changed while the range was read")
        return Batch(start, end, headers, logs)
