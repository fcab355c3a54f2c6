"""Developer scripts, run from a checkout with the project's virtualenv.

- ``python -m scripts.bench <workload>``: the benchmarks (see scripts/bench and
  docs/benchmarks.md).
- ``python scripts/compile_contracts.py [--check]``: the committed contract artifacts.
- ``python scripts/crash_drill.py --kills N``: kill -9 a streaming node N times.

They import the platform and its test harness (``cityledger.testing``), never ``tests``.
"""
