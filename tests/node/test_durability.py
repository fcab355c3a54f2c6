"""Durability: kill -9 while transactions stream; every served receipt survives unchanged."""

from __future__ import annotations

from pathlib import Path

import pytest

from cityledger.testing.crash import SENDERS, run_crash_drill

KILLS = 20


@pytest.mark.slow
def test_served_receipts_survive_repeated_kill_9(tmp_path: Path) -> None:
    report = run_crash_drill(tmp_path, KILLS)
    assert report.kills == KILLS
    assert report.lost == []
    assert report.changed == []
    # Each cycle confirms what all earlier cycles served, so a working stream grows this fast.
    assert report.confirmed >= KILLS * SENDERS
    assert report.head > KILLS
