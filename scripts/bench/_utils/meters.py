"""Meters: percentiles, rates, CPU per process, and timed runs of whole commands.

One percentile definition serves every workload: linear interpolation between the closest
ranks (numpy's default, ``statistics.quantiles(method="inclusive")``), so p50 is the median.
"""

from __future__ import annotations

import math
import os
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from scripts.bench._utils import BenchmarkError


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) of ``values``, or ``None`` when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class Spread:
    """The p50 and p95 of some measurements (``None`` when there were none)."""

    p50: float | None
    p95: float | None

    @classmethod
    def of(cls, values: Sequence[float], scale: float = 1.0) -> Spread:
        """``scale`` converts units: 1000 turns seconds into milliseconds."""
        scaled = [v * scale for v in values]
        return cls(percentile(scaled, 50), percentile(scaled, 95))

    @classmethod
    def ms(cls, seconds: Sequence[float]) -> Spread:
        return cls.of(seconds, 1000.0)


def rate(count: int, seconds: float) -> float:
    """Items per second (0 when nothing was timed)."""
    return count / seconds if seconds > 0 else 0.0


@dataclass
class RunStats:
    """One timed run of transactions: throughput from the first submit to the last one mined,
    and each transaction's latency."""

    txs: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    blocks: int = 0
    """Blocks that hold the transactions (0 when not counted)."""

    @property
    def tps(self) -> float:
        return rate(self.txs, self.seconds)

    @property
    def latency(self) -> Spread:
        return Spread.of(self.latencies_ms)


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system, all threads) process ``pid`` has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU seconds that processes spend from now on, by name."""

    def __init__(self, processes: Mapping[str, int]) -> None:
        self.processes = dict(processes)
        self.started = {name: cpu_seconds(pid) for name, pid in self.processes.items()}

    def per(self, count: int) -> dict[str, float]:
        """Milliseconds of CPU per item since the start, by process."""
        return {
            name: (cpu_seconds(pid) - self.started[name]) * 1000 / max(1, count)
            for name, pid in self.processes.items()
        }


def time_command(
    argv: Sequence[str],
    *,
    runs: int,
    warmup: int = 1,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 120.0,
) -> list[float]:
    """Wall seconds of ``runs`` runs of a whole command (process start to exit), after
    ``warmup`` untimed runs that fill the page cache; a failing run raises with its output."""
    environment = {**os.environ, **(env or {})}
    times = []
    for number in range(warmup + runs):
        started = time.perf_counter()
        done = subprocess.run(
            list(argv),
            env=environment,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            output = (done.stdout + done.stderr).strip()[-1500:]
            raise BenchmarkError(f"`{' '.join(argv)}` exited with {done.returncode}:\n{output}")
        if number >= warmup:
            times.append(elapsed)
    return times
