"""What a principal may do. Merchants and residents act only on their own address; a city
service key acts on any merchant's or account's data within its scopes."""

from __future__ import annotations

from enum import StrEnum

from ledger.exceptions import InputError


class PrincipalKind(StrEnum):
    """Who is asking: a resident (signed in with their key), a merchant or a city service
    (each with an API key)."""

    RESIDENT = "resident"
    MERCHANT = "merchant"
    SERVICE = "service"


ACCOUNTS_READ = "accounts:read"
INVOICES_READ = "invoices:read"
INVOICES_WRITE = "invoices:write"
PAYMENTS_READ = "payments:read"
REFUNDS_READ = "refunds:read"
REFUNDS_WRITE = "refunds:write"
SETTLEMENTS_READ = "settlements:read"
SETTLEMENTS_WRITE = "settlements:write"
REPORTS_READ = "reports:read"
WEBHOOKS_MANAGE = "webhooks:manage"
RELAY = "relay"
ADMIN = "admin"
"""Every scope, on every merchant and account (city staff only)."""

ALL = frozenset(
    {
        ACCOUNTS_READ,
        INVOICES_READ,
        INVOICES_WRITE,
        PAYMENTS_READ,
        REFUNDS_READ,
        REFUNDS_WRITE,
        SETTLEMENTS_READ,
        SETTLEMENTS_WRITE,
        REPORTS_READ,
        WEBHOOKS_MANAGE,
        RELAY,
        ADMIN,
    }
)
MERCHANT_DEFAULT = ALL - {ADMIN}
RESIDENT = frozenset({ACCOUNTS_READ, PAYMENTS_READ, REFUNDS_READ, RELAY})
SERVICE_READ_ONLY = frozenset(
    {ACCOUNTS_READ, INVOICES_READ, PAYMENTS_READ, REFUNDS_READ, SETTLEMENTS_READ, REPORTS_READ}
)
"""Scopes a city service key may hold besides ``admin``: a service is not a merchant, so it
reads merchants' data but creates nothing in their name."""


def parse_scopes(text: str) -> frozenset[str]:
    """Space- or comma-separated scope names; unknown ones are refused."""
    scopes = frozenset(s for s in text.replace(",", " ").split() if s)
    unknown = scopes - ALL
    if unknown:
        raise InputError(
            f"unknown scope(s) {', '.join(sorted(unknown))}; scopes are: {', '.join(sorted(ALL))}"
        )
    return scopes
