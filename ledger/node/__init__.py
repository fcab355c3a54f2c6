"""The embedded permissioned chain: py-evm, a durable store, a block sealer and JSON-RPC.

Nothing outside this package may import from it except the CLI that starts it: every other part
of CityLedger talks to a chain over JSON-RPC only, so that Besu (or anvil) can take its place.
"""
