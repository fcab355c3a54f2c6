"""The `wallet` CLI for residents, merchants and staff."""
