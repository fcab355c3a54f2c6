"""A node outage: the follower rides it out and resumes as soon as the node answers again,
not when its backoff (which had grown to 30 s) runs out — a 10 s outage cost 15 s more of lag
in the fault drill."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine

from cityledger.testing.accounts import write_genesis
from cityledger.testing.city import deploy_test_city
from cityledger.testing.processes import NodeProcess, free_port
from ledger.indexer.runner import Indexer


class Recorder:
    """A logger that keeps what the follower says, with when it said it."""

    def __init__(self) -> None:
        self.events: list[tuple[float, str, dict[str, Any]]] = []

    def _record(self, event: str, **fields: Any) -> None:
        self.events.append((time.monotonic(), event, fields))

    info = warning = error = debug = _record

    def last(self, event: str) -> tuple[float, dict[str, Any]]:
        when, _, fields = next(e for e in reversed(self.events) if e[1] == event)
        return when, fields


def test_following_resumes_as_soon_as_the_node_is_back(
    engine: Engine, accounts: list[LocalAccount], tmp_path: Path
) -> None:
    write_genesis(tmp_path / "genesis.json", accounts)
    node = NodeProcess(
        tmp_path / "genesis.json", tmp_path / "node", free_port(), ("--block-period", "0")
    ).start()
    try:
        city = deploy_test_city(node.url, accounts, tmp_path / "deployments" / "outage.json")
        log = Recorder()
        follower = Indexer.for_manifest(engine, node.url, city.city.manifest, log=log)
        stop = threading.Event()
        worker = threading.Thread(target=follower.follow, args=(stop, 1.0))
        worker.start()
        try:
            _until(lambda: follower.cursor() is not None, "the first batch")
            node.kill9()
            # Retries after 1, 2, 4, 8 s: wait until the follower has announced a 16 s pause,
            # long enough for the node to restart inside it even on a loaded machine.
            _until(
                lambda: any(e[1] == "chain_error" and e[2]["retry_in"] >= 16 for e in log.events),
                "a grown backoff",
            )
            node.start()
            head = city.city.chain.block_number()
            # The cursor may have reached the head before the kill: the event is the signal
            # that the follower noticed the node, and then it must be (still) caught up.
            _until(lambda: any(e[1] == "chain_reachable_again" for e in log.events), "the probe")
            _until(lambda: (follower.cursor() or _NONE).block_number >= head, "catching up again")
        finally:
            stop.set()
            worker.join(60)
        assert not worker.is_alive()
        # It resumed before the pause it was in was over (it did not sleep it out); a node
        # slow to restart may have cost another pause, so "the pause" is the last one begun.
        resumed, _ = log.last("chain_reachable_again")
        pauses = [(when, f) for when, event, f in log.events if event == "chain_error"]
        announced, fields = [p for p in pauses if p[0] < resumed][-1]
        assert fields["retry_in"] >= 16
        assert resumed < announced + fields["retry_in"], (resumed - announced, fields)
    finally:
        node.stop()


class _NoCursor:
    block_number = -1


_NONE = _NoCursor()


def _until(condition: Any, what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
