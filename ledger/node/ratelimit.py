"""Per-sender admission rate: a token bucket of transaction bytes for each sender.

Gas is free on this chain, so an allowlisted account (every registered resident is one) could
have megabytes of calldata mined every second: every node's store grew 3.3 MB in 1.2 s under one
sender. The size limit caps one transaction; this caps what one sender adds over time, so the
store grows at most ``senders * rate`` and one noisy account cannot crowd out the rest. Bytes
are the measure because bytes are what a node keeps forever (a transfer is ~110 bytes, a relayed
payment ~600, a contract deployment up to twice the contract size limit).

A bucket starts full (``burst`` bytes) and refills at ``rate`` bytes a second; a transaction is
admitted only if its size is in the bucket, and only an admitted transaction is charged. Full
buckets are forgotten, so memory follows the senders active in the last ``burst / rate``
seconds, not the size of the allowlist.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from eth_typing import Address

_PRUNE_EVERY = 4_096
"""Charges between sweeps for buckets that have refilled completely."""


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class SenderRateLimiter:
    """Token buckets of bytes per sender; thread-safe. ``rate`` 0 admits everything."""

    def __init__(
        self, *, rate: int, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[Address, _Bucket] = {}
        self._lock = threading.Lock()
        self._charges = 0

    def wait_needed(self, sender: Address, size: int) -> float:
        """Seconds until ``sender`` may add ``size`` bytes; 0 when it may now."""
        if not self.rate:
            return 0.0
        with self._lock:
            tokens = self._tokens(sender, self._clock())
        return 0.0 if size <= tokens else (size - tokens) / self.rate

    def charge(self, sender: Address, size: int) -> None:
        """Take ``size`` bytes from ``sender``'s bucket (after its transaction was admitted)."""
        if not self.rate:
            return
        with self._lock:
            now = self._clock()
            self._buckets[sender] = _Bucket(self._tokens(sender, now) - size, now)
            self._charges += 1
            if self._charges % _PRUNE_EVERY == 0:
                self._prune(now)

    def tracked(self) -> int:
        """How many senders have a bucket that is not full (for tests and metrics)."""
        with self._lock:
            self._prune(self._clock())
            return len(self._buckets)

    def _tokens(self, sender: Address, now: float) -> float:
        bucket = self._buckets.get(sender)
        if bucket is None:
            return float(self.burst)
        return min(float(self.burst), bucket.tokens + (now - bucket.stamp) * self.rate)

    def _prune(self, now: float) -> None:
        full = [s for s in self._buckets if self._tokens(s, now) >= self.burst]
        for sender in full:
            del self._buckets[sender]
