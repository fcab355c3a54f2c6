"""The language of a request's messages, from its ``Accept-Language`` header.

The rule (which languages exist, how a header is read and bounded) is :mod:`ledger.i18n`'s;
this middleware applies it around the whole request, outermost, so that every ``detail`` the
request can produce, including the size and rate limits' refusals, is in that language. The
response says which language it chose (``Content-Language``) and that the choice depends on
the header (``Vary``), so caches keep the languages apart. Error ``code`` fields and every
non-error document stay language-neutral.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.i18n import negotiate, using_language


class RequestLanguage:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = next((v for k, v in scope["headers"] if k == b"accept-language"), b"")
        language = negotiate(header.decode("latin-1"))

        async def send_with_language(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers["Content-Language"] = language
                headers.add_vary_header("Accept-Language")
            await send(message)

        with using_language(language):
            await self.app(scope, receive, send_with_language)
