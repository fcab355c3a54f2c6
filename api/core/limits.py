"""Two ASGI middlewares in front of every route: a request body size limit (413) and a token
bucket per principal or client IP (429).

A principal gets a bucket of its own only once its credential is known to be real: an access
token's signature is checked here, an API key is looked up in the API's table
(:class:`VerifiedKeys`, which remembers the keys it found). Anything else is charged to the
client's IP, so inventing keys buys no fresh buckets.

The buckets live in this process's memory: with several API replicas each enforces the limit
on its own (a client spread over N replicas gets up to N times the rate). A shared limit needs
a shared store (Redis) or the load balancer's limiter.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.core.security import InvalidTokenError, decode_access_token, hash_api_key, is_api_key

EXEMPT_PATHS = frozenset({"/health"})


async def _send_error(
    send: Send, status: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> None:
    body = json.dumps({"code": code, "detail": detail}).encode()
    raw_headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    raw_headers += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})


class BodySizeLimit:
    """Refuse bodies over ``max_bytes``: at once by Content-Length; a body without one
    (chunked) is read up to the limit before the application sees any of it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        detail = f"the request body is larger than {self.max_bytes:,} bytes"
        length = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if length is not None:
            try:
                too_large = int(length) > self.max_bytes
            except ValueError:
                await _send_error(send, 400, "bad_request", "invalid Content-Length")
                return
            if too_large:
                await _send_error(send, 413, "payload_too_large", detail)
                return
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _send_error(send, 413, "payload_too_large", detail)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        buffered: list[Message] = [
            {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        ]

        async def replay() -> Message:
            return buffered.pop() if buffered else await receive()

        await self.app(scope, replay, send)


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """``rate`` tokens a second up to ``burst``, per key; the least recently used keys are
    forgotten beyond ``max_keys`` (a forgotten key starts again with a full bucket)."""

    def __init__(self, rate: float, burst: int, max_keys: int = 100_000) -> None:
        self.rate = rate
        self.burst = burst
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        """Take one token: 0.0 if allowed, else the seconds until one is available."""
        now = time.monotonic() if now is None else now
        with self._lock:
            bucket = self._buckets.pop(key, None) or _Bucket(float(self.burst), now)
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
            bucket.updated = now
            self._buckets[key] = bucket
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / self.rate


class VerifiedKeys:
    """Whether an API key digest belongs to a stored, unrevoked key; found keys are remembered
    (a bounded LRU), unknown ones are asked again each time (one indexed lookup, charged to
    the asking IP's bucket). A key revoked after it was remembered keeps its own bucket until
    it is forgotten; the route refuses every request with it anyway."""

    def __init__(self, lookup: Callable[[str], bool], max_keys: int = 100_000) -> None:
        self.lookup = lookup
        self.max_keys = max_keys
        self._digests: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def known(self, digest: str) -> bool:
        with self._lock:
            if digest in self._digests:
                self._digests.move_to_end(digest)
                return True
        if not self.lookup(digest):
            return False
        with self._lock:
            self._digests[digest] = None
            if len(self._digests) > self.max_keys:
                self._digests.popitem(last=False)
        return True


def client_ip(scope: Scope) -> str:
    client = scope.get("client")
    return client[0] if client else "unknown"


class RateLimit:
    """Per verified principal (a known API key, or the address of a valid access token), else
    per client IP address."""

    def __init__(
        self, app: ASGIApp, buckets: TokenBuckets, secret: str, verified: VerifiedKeys
    ) -> None:
        self.app = app
        self.buckets = buckets
        self.secret = secret
        self.verified = verified

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        wait = self.buckets.take(await self._key(scope))
        if wait > 0:
            await _send_error(
                send,
                429,
                "rate_limited",
                "too many requests: slow down and retry after the Retry-After seconds",
                {"Retry-After": str(max(1, math.ceil(wait)))},
            )
            return
        await self.app(scope, receive, send)

    async def _key(self, scope: Scope) -> str:
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, credential = value.decode("latin-1").partition(" ")
                credential = credential.strip()
                if scheme.lower() != "bearer" or not credential:
                    break
                if is_api_key(credential):
                    digest = hash_api_key(credential)
                    if await run_in_threadpool(self.verified.known, digest):
                        return "key:" + digest
                    break
                try:
                    return "sub:" + str(decode_access_token(self.secret, credential)["sub"])
                except InvalidTokenError:
                    break
        return "ip:" + client_ip(scope)
