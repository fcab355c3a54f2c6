"""The webhook worker's HTTP transport: every TCP connection goes only to an address checked
at that moment (:mod:`api.webhooks.destinations`).

The check lives in httpcore's network layer rather than before the request: the host is
resolved once, each address checked, and the socket connects to exactly those addresses (the
name is never resolved again in between, so a second DNS answer cannot change the
destination). TLS still verifies the certificate for, and sends SNI and ``Host`` with, the
URL's host name, and keep-alive connections stay keyed by that name. No proxy from the
environment is used and redirects are not followed (see the worker's client).
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import anyio
import httpcore
import httpx

from api.webhooks.destinations import DestinationNotAllowed, check_addresses, resolve_async

SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks (unless private hosts are allowed) and connects to the checked
    addresses, in turn until one answers."""

    def __init__(self, *, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        started = time.monotonic()
        try:
            with anyio.fail_after(timeout):
                addresses = await resolve_async(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
        if not self.allow_private:
            addresses = check_addresses(host, addresses)
        failure: Exception = httpcore.ConnectError(f"{host} has no address")
        for address in addresses:
            left = None if timeout is None else max(0.0, timeout - (time.monotonic() - started))
            try:
                return await self._inner.connect_tcp(
                    str(address), port, left, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure

    async def connect_unix_socket(
        self,
        path: str,  # noqa: ARG002 - the interface's
        timeout: float | None = None,  # noqa: ARG002
        socket_options: Iterable[SocketOption] | None = None,  # noqa: ARG002
    ) -> httpcore.AsyncNetworkStream:
        raise DestinationNotAllowed("webhooks are never sent to a unix socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over a connection pool whose network backend is a
    :class:`GuardedBackend`.

    httpx does not take a network backend, so the pool it built is replaced by an equal one
    with ours (the same arguments httpx passes); ``tests/api/test_webhook_ssrf.py`` fails if
    a later httpx stops sending requests through ``_pool``.
    """

    def __init__(self, *, allow_private: bool, limits: httpx.Limits | None = None) -> None:
        limits = limits or httpx.Limits(max_connections=200)
        super().__init__(trust_env=False, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=GuardedBackend(allow_private=allow_private),
        )
