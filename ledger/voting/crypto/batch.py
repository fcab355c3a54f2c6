"""Verifying a whole election's ballots for the public audit, on every core.

Ballot verification is pure CPU in libsecp256k1 (a few milliseconds a ballot) and every ballot
is independent, so the ballots are cut into chunks and verified in worker processes; threads
would not help, as coincurve holds the GIL. Only bytes cross the process boundary. Workers
start from a fork server rather than a plain fork: callers such as the API run threads, and
forking a threaded process can deadlock the child on a lock held by another thread.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor

from ledger.voting.crypto.ballot import parse_and_verify
from ledger.voting.crypto.context import BallotSpec, ElectionContext
from ledger.voting.crypto.errors import VotingCryptoError
from ledger.voting.crypto.group import Point, precompute

MIN_PARALLEL = 64
"""Below this many ballots, starting processes costs more than it saves."""
MIN_PRECOMPUTE = 200
"""From this many ballots on, a fixed-base table for the election key (about 50 ms to build,
0.5 ms saved a ballot) pays for itself."""
CHUNKS_PER_WORKER = 4
"""Several chunks a worker, so a slow chunk does not leave the other cores idle at the end."""


def _verify_chunk(
    context: ElectionContext,
    public_key: bytes,
    spec: BallotSpec,
    ballots: Sequence[tuple[str, bytes]],
) -> list[str | None]:
    key = Point.from_bytes(public_key)
    if len(ballots) >= MIN_PRECOMPUTE:
        precompute(key)
    results: list[str | None] = []
    for voter, data in ballots:
        try:
            parse_and_verify(context, key, spec, voter, data)
        except VotingCryptoError as error:
            results.append(str(error))
        else:
            results.append(None)
    return results


def verify_ballots(
    context: ElectionContext,
    public_key: Point,
    spec: BallotSpec,
    ballots: Sequence[tuple[str, bytes]],
    *,
    workers: int | None = None,
) -> list[str | None]:
    """For each ``(voter, ballot bytes)``: ``None`` if the ballot parses and every proof verifies
    (the counting rule's check, section 6), else the sentence saying why not.

    ``workers`` processes (default: one per CPU); with one worker, or few ballots, everything
    runs in this process. Results are in the order of ``ballots``.
    """
    count = workers if workers is not None else (os.cpu_count() or 1)
    if count <= 1 or len(ballots) < MIN_PARALLEL:
        return _verify_chunk(context, public_key.encoding, spec, ballots)
    size = -(-len(ballots) // (count * CHUNKS_PER_WORKER))
    chunks = [ballots[k : k + size] for k in range(0, len(ballots), size)]
    results: list[str | None] = []
    start = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=count, mp_context=start) as pool:
        futures = [
            pool.submit(_verify_chunk, context, public_key.encoding, spec, chunk)
            for chunk in chunks
        ]
        for future in futures:
            results.extend(future.result())
    return results
