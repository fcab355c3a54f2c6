"""kill -9 the indexer again and again while it works through a backlog, then let it finish:
the index must equal one built from scratch in one go (no row twice, none missing), on SQLite
and on PostgreSQL."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine

from cityledger.testing.city import TestCity
from cityledger.testing.processes import ROOT
from cityledger.testing.token_flood import fund_residents, presign_transfers, send_and_wait
from ledger.indexer.db import make_engine, upgrade
from ledger.indexer.load import read_cursor
from tests.indexer.helpers import assert_matches_chain, index, snapshot

pytestmark = pytest.mark.slow

TRANSFERS = 1_500
KILLS = 8
BATCH_BLOCKS = "5"


@pytest.fixture(scope="module")
def backlog(test_city: TestCity) -> int:
    """The chain head once a flood of transfers has filled well over a hundred blocks."""
    senders = test_city.people[:12]
    fund_residents(test_city, senders, 1_000_000, "CRASH")
    flood = send_and_wait(test_city.url, presign_transfers(test_city, senders, TRANSFERS), chunk=6)
    assert flood.blocks > 100
    return test_city.city.chain.block_number()


def _cursor(engine: Engine) -> int:
    with engine.connect() as connection:
        cursor = read_cursor(connection)
    return -1 if cursor is None else cursor.block_number


def _indexer_process(engine: Engine, city: TestCity, log: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "cityledger",
        "index",
        "--db-url",
        engine.url.render_as_string(hide_password=False),
        "--rpc-url",
        city.url,
        "--manifest",
        str(city.manifest_path),
        "--batch-blocks",
        BATCH_BLOCKS,
        "--log-format",
        "json",
        "--log-level",
        "warning",
    ]
    with log.open("ab") as output:
        return subprocess.Popen(command, stdout=output, stderr=output, cwd=ROOT, env=os.environ)


def test_kill_9_mid_batch_loses_and_duplicates_nothing(
    engine: Engine, test_city: TestCity, backlog: int, tmp_path: Path
) -> None:
    rng = random.Random(1234)
    log = tmp_path / "indexer.log"
    progress = [_cursor(engine)]
    killed_mid_run = 0
    for _ in range(KILLS):
        process = _indexer_process(engine, test_city, log)
        # Kill once this process has committed a batch (so it is really at work), at a random
        # moment of a later one; within 0.1 s, so that eight kills take a fraction of the
        # backlog however fast the database is (up to 0.3 s, PostgreSQL once finished it first).
        deadline = time.monotonic() + 60
        while _cursor(engine) == progress[-1] and process.poll() is None:
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.1))
        if process.poll() is not None:
            assert process.returncode == 0, log.read_text()[-3000:]
            break
        process.kill()
        process.wait()
        killed_mid_run += 1
        progress.append(_cursor(engine))
    finished = _indexer_process(engine, test_city, log)
    assert finished.wait(300) == 0, log.read_text()[-3000:]

    assert killed_mid_run == KILLS, f"the backlog ran out after {killed_mid_run} kills: {progress}"
    assert progress == sorted(set(progress)), progress
    assert progress[-1] < backlog
    clean = make_engine(f"sqlite:///{tmp_path / 'clean.sqlite3'}")
    upgrade(clean)
    index(clean, test_city.city, batch_blocks=10_000)
    assert snapshot(engine) == snapshot(clean)
    clean.dispose()
    assert_matches_chain(engine, test_city.city)
