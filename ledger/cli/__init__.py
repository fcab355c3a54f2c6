"""The library's ``cityledger`` sub-commands, one module per concern: ``node`` (the embedded
chain, the one module that imports :mod:`ledger.node`), ``deploy``, ``admin`` (registry, token,
fees, redemptions), ``index`` and ``election``.

Each module has a ``register(app)`` function named in the ``cityledger.commands`` entry-point
group; the root command (:mod:`cityledger.cli`) loads the group. Shared options and the error
handling live in :mod:`ledger.cli.common`.
"""
