"""The workloads, one module each: ``add_arguments(parser)`` and ``run(args) -> Report``.

A module's docstring is its ``--help`` text: what it measures and how. Modules load only when
their workload runs (each imports what it measures: py-evm, the API, the voting crypto).
"""

from __future__ import annotations

import argparse
import importlib
from typing import Protocol, cast

from scripts.bench._utils.reporting import Report

WORKLOADS = {
    "chain": "ERC-20 transfers: the embedded node next to raw py-evm, eth-tester and anvil",
    "payments": "merchant payments through the city API (webhooks on), next to the node's rate",
    "indexer": "the indexer's ingest rate (SQLite, PostgreSQL) against the chain's own",
    "token": "CityToken transfers through each layer: node, ledger wrapper, wallet",
    "voting": "M-voting at city scale: ballots cast per second and the full public audit",
    "voting_crypto": "the ballot cryptography per ballot and the audit's verification rate",
    "startup": "whole commands timed from start to exit: --help and `wallet balance`",
}
"""Name -> one line, in the order ``python -m scripts.bench --help`` lists them."""


class Workload(Protocol):
    __doc__: str | None

    def add_arguments(self, parser: argparse.ArgumentParser) -> None: ...

    def run(self, args: argparse.Namespace) -> Report: ...


def load(name: str) -> Workload:
    return cast(Workload, importlib.import_module(f"{__name__}.{name}"))
