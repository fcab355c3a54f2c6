"""The benchmarks: ``python -m scripts.bench <workload> [options]`` (see docs/benchmarks.md).

Shaped like py-evm's ``scripts/benchmark``: ``run.py`` is the runner, ``checks/`` holds one
module per workload (chain, payments, indexer, token, voting, voting_crypto, startup), and
``_utils/`` what they share: ``meters`` (percentiles, rates, CPU per process, timed commands),
``reporting`` (tables, JSON), ``chain_plumbing`` (a city on a node, JSON-RPC sessions, the
flood), ``indexing`` (databases and the catch-up), ``tx`` (raw transactions) and ``district``
(the reference district's numbers, docs/workload.md).
"""
