"""Slow clients are timed out by the server: each one holds a connection (and memory) for as long
as it takes, so a few dozen trickling connections would otherwise tie the gateway up.

- request headers must arrive within ``header_timeout_seconds`` of a request's first byte (or
  of the connection's opening): uvicorn has no such limit of its own, so its HTTP/1.1
  protocol (httptools) is extended with one;
- a request body must arrive within ``body_timeout_seconds`` of the first read (HTTP 408);
- an idle keep-alive connection is closed after ``keep_alive_timeout_seconds`` (uvicorn's).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.config import Settings
from app.http.errors import send_error

log = logging.getLogger("app.http")


def httptools_with_header_timeout(seconds: float) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol (its fastest HTTP/1.1 parser), closing connections whose
    request headers do not arrive in time."""

    class HeaderTimeoutProtocol(HttpToolsProtocol):
        header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()  # a connection that sends nothing is closed as well

        def on_message_begin(self) -> None:
            self._arm()  # a request's first byte: its headers must follow in time
            super().on_message_begin()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _arm(self) -> None:
            if self.header_timer is None:
                self.header_timer = self.loop.call_later(seconds, self._headers_too_slow)

        def _disarm(self) -> None:
            if self.header_timer is not None:
                self.header_timer.cancel()
                self.header_timer = None

        def _headers_too_slow(self) -> None:
            self.header_timer = None
            if not self.transport.is_closing():
                log.info("closed a connection whose request headers did not arrive within %s s", seconds)
                self.transport.close()

    return HeaderTimeoutProtocol


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The server options `profile-gateway serve` passes to uvicorn for slow clients."""
    return {
        "http": httptools_with_header_timeout(settings.header_timeout_seconds),
        "timeout_keep_alive": max(1, round(settings.keep_alive_timeout_seconds)),
    }


class _BodyTimedOut(Exception):
    pass


class BodyReadTimeout:
    """A request body that does not arrive within ``seconds`` of the first read gets 408."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        deadline: float | None = None
        body_complete = False
        started = False

        async def timed_receive() -> Message:
            nonlocal deadline, body_complete
            if body_complete:
                return await receive()  # e.g. waiting for a disconnect: not a body read
            loop = asyncio.get_running_loop()
            deadline = deadline if deadline is not None else loop.time() + self.seconds
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise _BodyTimedOut from None
            body_complete = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, timed_receive, watched_send)
        except _BodyTimedOut:
            log.info("request body did not arrive within %s s", self.seconds)
            if not started:
                request_id = scope.get("state", {}).get("request_id")
                message = f"the request body did not arrive within {self.seconds:g} seconds"
                await send_error(send, 408, message, code="REQUEST_TIMEOUT", request_id=request_id)
