"""CityLedger: a city's local currency and civic services on one permissioned EVM chain."""
