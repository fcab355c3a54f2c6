"""The CityLedger platform: the composition root.

This is the one package that may import every layer (the library ``ledger``, the ``api``, the
embedded node): it holds the ``cityledger`` command's root, which collects the sub-commands each
package registers under the ``cityledger.commands`` entry-point group, ``cityledger up`` (node +
indexer + API + webhook worker + demo district in one process), the demo district itself, and
the harness the tests and benchmarks share (``cityledger.testing``). Nothing imports it but the
console script, the tests and the benchmarks. See docs/architecture.md.
"""
