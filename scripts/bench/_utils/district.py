"""The reference district's numbers the benchmarks use (docs/workload.md), in one place.

Every workload reports how many times the evening payment peak its throughput covers, and draws
payment amounts from the same distribution, so figures from different workloads compare.
"""

from __future__ import annotations

import math
import random

LIFE_ZONE_RESIDENTS = 20_000
"""Sejong 5-1 life zone: the electorate of a city-scale vote (voting, voting_crypto)."""
CITY_RESIDENTS = 400_000
"""The whole city: the stretch genesis of the chain workload (funded accounts)."""
LIFE_ZONE_MERCHANTS = 1_000
"""Merchants of the life zone: the recipients the chain workload pays at random."""

LIFE_ZONE_PEAK_TPS = 0.5
"""Evening payment peak of the life zone: 20,000 x 60% x 1.2 a day, x3 in the evening."""
CITY_PEAK_TPS = 10.0
"""Evening payment peak of the whole city (~290,000 payments a day)."""

PAYMENT_MEDIAN_KRW = 15_000
PAYMENT_MIN_KRW, PAYMENT_MAX_KRW = 1_000, 300_000

DISTRICT = 5101
"""The district code residents and merchants are registered in (the pilot zone)."""


def payment_amount(rng: random.Random, sigma: float) -> int:
    """A purchase in KRW: log-normal around the median, whole ₩100, clamped to ₩1,000-300,000.

    ``sigma`` is the spread of the log (docs/workload.md fixes the median and the range only):
    the chain workload draws with 1.0, the payments workload with 0.8, as when their published
    figures were measured.
    """
    value = rng.lognormvariate(math.log(PAYMENT_MEDIAN_KRW), sigma)
    return int(min(max(round(value, -2), PAYMENT_MIN_KRW), PAYMENT_MAX_KRW))


def covers(rate: float) -> tuple[float, float]:
    """How many times the life zone's and the whole city's evening peak ``rate`` covers."""
    return rate / LIFE_ZONE_PEAK_TPS, rate / CITY_PEAK_TPS
