"""Where a webhook may go: public addresses only, so a merchant's URL cannot make the API reach
the city's own services (server-side request forgery).

A host counts as public when it is, or resolves only to, globally routable unicast addresses.
Host spellings are read the way the resolver and the browser read them: every numeric IPv4 form
(``2130706433``, ``0x7f000001``, ``017700000001``, ``127.1``, ``0``), a trailing dot, IPv6
with an embedded IPv4 address (mapped, 6to4, NAT64, Teredo). A name is checked by resolving it,
and every address it resolves to must be public.

The check runs twice: when an endpoint is registered (a clear ``422`` for the merchant) and
again at every connection, inside the HTTP client's network layer
(:mod:`api.webhooks.transport`), on the very addresses the socket then connects to. A name
that resolved to a public address at registration and to loopback later (DNS rebinding, or an
endpoint stored before these checks) is refused there, and nothing is sent.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from urllib.parse import SplitResult, urlsplit

import anyio
import httpx

from ledger.exceptions import LedgerError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")
LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".home.arpa")
"""Names that are local by definition (RFC 6761, 6762, 8375; ``.internal`` by convention)."""
_NUMBER = re.compile(r"^(0[xX][0-9a-fA-F]*|[0-9]+)$")


class DestinationError(LedgerError, ValueError):
    """A webhook URL the API will not send to."""


class InvalidWebhookUrl(DestinationError):
    """Not an absolute http(s) URL with a host."""


class DestinationNotAllowed(DestinationError):
    """The host is, or resolves to, an address that is not public (or does not resolve)."""


def canonical_host(host: str) -> str:
    """Lower case, without the trailing dot of a fully qualified name."""
    host = host.lower()
    return host[:-1] if host.endswith(".") and not host.endswith("..") else host


def ipv4_number(host: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address a numeric host spells, in any form ``inet_aton`` and the WHATWG URL
    standard accept (1 to 4 parts, each decimal, ``0x`` hex or ``0`` octal, the last filling
    the remaining bytes); None when the host is a name. Raises :class:`InvalidWebhookUrl` for
    a host that ends in a number without being an address (``1.2.3.09``, ``1.2.3.4.5``)."""
    parts = canonical_host(host).split(".")
    if not _NUMBER.match(parts[-1]):
        return None
    if len(parts) > 4:
        raise InvalidWebhookUrl(f"{host!r} is neither an IPv4 address nor a host name")
    numbers: list[int] = []
    for part in parts:
        try:
            if part[:2] in ("0x", "0X"):
                numbers.append(int(part[2:] or "0", 16))
            elif len(part) > 1 and part.startswith("0"):
                numbers.append(int(part[1:], 8))
            else:
                numbers.append(int(part, 10))
        except ValueError:
            raise InvalidWebhookUrl(f"{host!r} is not a valid IPv4 address") from None
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(numbers)):
        raise InvalidWebhookUrl(f"{host!r} is not a valid IPv4 address")
    value = last
    for index, number in enumerate(leading):
        value += number << (8 * (3 - index))
    return ipaddress.IPv4Address(value)


def literal_address(host: str) -> IPAddress | None:
    """The address a host is written as (IPv6 without brackets, any IPv4 form), or None."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return ipv4_number(host)


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    found = [a for a in (address.ipv4_mapped, address.sixtofour) if a is not None]
    if address.teredo is not None:
        found.extend(address.teredo)
    if address in _NAT64 or address in _IPV4_COMPATIBLE:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found


def is_public(address: IPAddress) -> bool:
    """A globally routable unicast address (and so is any IPv4 address embedded in it)."""
    if (
        not address.is_global
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or address.is_link_local
        or address.is_loopback
    ):
        return False
    if isinstance(address, ipaddress.IPv6Address):
        return all(is_public(inner) for inner in _embedded_ipv4(address))
    return True


def check_addresses(host: str, addresses: Iterable[IPAddress]) -> list[IPAddress]:
    """``addresses`` if there is at least one and each is public; else refused."""
    found = list(dict.fromkeys(addresses))
    if not found or not all(is_public(a) for a in found):
        raise DestinationNotAllowed(f"{host} does not resolve to public addresses only")
    return found


def _addresses(infos: Iterable[tuple[object, ...]]) -> list[IPAddress]:
    found: list[IPAddress] = []
    for info in infos:
        sockaddr = info[4]
        assert isinstance(sockaddr, tuple)
        found.append(ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0]))
    return list(dict.fromkeys(found))


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` stands for (blocking: for registration, in a worker thread)."""
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    try:
        infos = socket.getaddrinfo(canonical_host(host), port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    return _addresses(infos)


async def resolve_async(host: str, port: int) -> list[IPAddress]:
    """As :func:`resolve`, without blocking the event loop; raises ``OSError`` when the name
    does not resolve."""
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    infos = await anyio.getaddrinfo(canonical_host(host), port, type=socket.SOCK_STREAM)
    return _addresses(infos)


def parse_url(url: str) -> tuple[SplitResult, str, int]:
    """The URL's parts, host and port; refuses anything but absolute http(s) with a host."""
    invalid = InvalidWebhookUrl("the URL must be absolute http(s)://host/…")
    if any(c.isspace() for c in url):
        raise invalid
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError:
        raise invalid from None
    if parts.scheme not in ("http", "https") or not host:
        raise invalid
    try:
        httpx.URL(url)  # what the worker will parse: a host it refuses is refused now
    except httpx.InvalidURL:
        raise invalid from None
    return parts, host, port or (443 if parts.scheme == "https" else 80)


def check_registration(url: str, *, allow_private: bool, require_https: bool) -> None:
    """Refuse a URL the worker would not send to: malformed, plain http where https is
    required, or (unless ``allow_private``) a host that is not public. Resolves names
    (blocking)."""
    parts, host, port = parse_url(url)
    if require_https and parts.scheme != "https":
        raise InvalidWebhookUrl("webhook URLs must use https")
    literal = literal_address(host)  # also refuses malformed numeric hosts when allowed
    if allow_private:
        return
    name = canonical_host(host)
    if literal is None and (name == "localhost" or name.endswith(LOCAL_SUFFIXES)):
        raise DestinationNotAllowed(f"{host} is a local name")
    check_addresses(host, resolve(host, port))
