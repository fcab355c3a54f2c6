"""The nodes' account allowlists, changed over Besu's PERM API.

The chain is permissioned twice: a node refuses transactions from senders not on its accounts
allowlist, and the contracts refuse token movements of accounts the registry does not hold
active. :mod:`ledger.registration` keeps the two in step through this client; the calls are the
same JSON-RPC methods on the embedded node and on Besu (``perm_addAccountsToAllowlist``,
``perm_removeAccountsFromAllowlist``), sent with the nodes' admin token.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import httpx

from ledger.exceptions import PermissioningError
from ledger.secrets import NODE_ADMIN_TOKEN_ENV, env_secret

URLS_ENV = "CITYLEDGER_PERM_RPC_URLS"


class NodeAllowlists:
    """The accounts allowlists of one or more nodes, changed together."""

    def __init__(self, urls: Sequence[str], token: str) -> None:
        self.urls = list(urls)
        self._token = token

    @classmethod
    def from_env(cls, rpc_url: str) -> NodeAllowlists | None:
        """From $CITYLEDGER_NODE_ADMIN_TOKEN (or ..._FILE) and $CITYLEDGER_PERM_RPC_URLS
        (comma-separated; default: the chain's RPC URL); None if no token is configured."""
        token = env_secret(NODE_ADMIN_TOKEN_ENV)
        if not token:
            return None
        urls = [u.strip() for u in os.environ.get(URLS_ENV, rpc_url).split(",") if u.strip()]
        return cls(urls, token)

    def add(self, accounts: Sequence[str]) -> None:
        self._call("perm_addAccountsToAllowlist", list(accounts))

    def remove(self, accounts: Sequence[str]) -> None:
        self._call("perm_removeAccountsFromAllowlist", list(accounts))

    def _call(self, method: str, accounts: list[str]) -> None:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": [accounts]}
        headers = {"Authorization": f"Bearer {self._token}"}
        for url in self.urls:
            try:
                answer = httpx.post(url, json=body, headers=headers, timeout=10).json()
            except (httpx.HTTPError, ValueError) as exc:
                raise PermissioningError(f"cannot change the allowlist of {url}: {exc}") from exc
            if "error" in answer:
                raise PermissioningError(
                    f"{url} refused {method}: {answer['error'].get('message', answer['error'])}"
                )
