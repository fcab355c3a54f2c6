"""The CityLedger platform: the composition root.

This is the one package that may import every layer (the library ``ledger``, the ``api``, the
embedded node): it holds the ``cityledger`` command's root, which collects the sub-commands each
package registers under the ``cityledger.commands`` entry-point group, ``cityledger up`` (node +
indexer + API + webhook worker + demo district in one process) and the demo district itself.
Nothing imports it but the console script and the tests. See docs/architecture.md.
"""
