"""The harness that tests and benchmarks share: real chains, a deployed city, and their people.

A library, as py-evm's ``eth.tools`` and electionguard's ``electionguard_tools`` are: the test
suites (``tests/``) and the benchmarks (``scripts/bench``) both import it, and neither imports
the other. Pytest fixtures stay in ``tests/**/conftest.py``; hypothesis strategies stay in
``tests/`` (hypothesis is a development dependency, and a strategy is a module-level value).

- :mod:`~cityledger.testing.processes` ``cityledger node`` and anvil child processes on free
  ports; ``rpc``/``rpc_batch`` JSON-RPC calls.
- :mod:`~cityledger.testing.inprocess` an embedded node opened in this process; raw transfers.
- :mod:`~cityledger.testing.accounts` deterministic test keys and genesis files.
- :mod:`~cityledger.testing.city` the city deployed with staff holding their roles.
- :mod:`~cityledger.testing.api` the API on uvicorn in a thread, a world of merchants and
  residents, API keys, Sign-In with Ethereum, webhook receivers.
- :mod:`~cityledger.testing.postgres` a throwaway PostgreSQL server.
- :mod:`~cityledger.testing.web3tx` sign-and-send as a wallet does.
- :mod:`~cityledger.testing.token_flood`, :mod:`~cityledger.testing.voting` many pre-signed
  transfers, registrations and ballots; a trustees' key ceremony.
- :mod:`~cityledger.testing.crash` the kill -9 drill.

It runs from a source checkout: anvil and cast come from ``contracts/node_modules``.
Every module needs only the platform's runtime dependencies.
"""
