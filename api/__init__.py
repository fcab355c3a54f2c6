"""CityLedger HTTP API (FastAPI) over ledger/ and the index."""
