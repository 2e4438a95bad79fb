"""graphql-transport-ws with the limits of HTTP: the failed-authentication limit per client
address guards ``connection_init``, and every ``subscribe`` spends a token of the app's rate.

Close codes are the protocol's: a refused ``connection_init`` (bad credentials, or an address
that failed too often) closes the socket with ``4403: Forbidden``; ``4429`` means only a
second ``connection_init`` there. A rate-limited ``subscribe`` gets the protocol's ``error``
message for its id (code RATE_LIMITED) and the connection stays open.
"""

from __future__ import annotations

import contextlib

from graphql import GraphQLError
from starlette.requests import HTTPConnection
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    ErrorMessage,
    SubscribeMessage,
)

from app.graphql.context import Context
from app.http.rate_limit import RateLimiter

CLOSE_FORBIDDEN = 4403
ADDRESS_LIMITED = "too many failed authentications from this address; retry later"
APP_LIMITED = "rate limit exceeded for this app; retry later"


def client_address(connection: HTTPConnection) -> str | None:
    """The key of the failed-authentication limit, as on HTTP (the ASGI ``client`` host)."""
    client = connection.scope.get("client")
    return client[0] if client and client[0] else None


class LimitedTransportWS(BaseGraphQLTransportWSHandler[Context, None]):
    """Strawberry's graphql-transport-ws handler; the view holds the limiters
    (``auth_failures`` and ``rate_limiter``, each None when switched off)."""

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        limiter: RateLimiter | None = getattr(self.view, "auth_failures", None)
        address = client_address(self.context.request)
        if limiter is not None and address is not None and limiter.blocked(address) is not None:
            # Refused from memory, before the credential costs a store look-up.
            self.connection_init_received = True
            if self.connection_init_timeout_task is not None:
                self.connection_init_timeout_task.cancel()
            await self.websocket.close(code=CLOSE_FORBIDDEN, reason=ADDRESS_LIMITED)
            return
        await super().handle_connection_init(message)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        limiter: RateLimiter | None = getattr(self.view, "rate_limiter", None)
        app_id = self.context.principal.app_id
        if self.connection_acknowledged and limiter is not None and app_id is not None:
            wait = await limiter.acquire(app_id)
            if wait is not None:
                await self._refuse(message, APP_LIMITED, "RATE_LIMITED", RateLimiter.retry_after_header(wait))
                return
        await super().handle_subscribe(message)

    async def _refuse(self, message: SubscribeMessage, text: str, code: str, retry_after: str) -> None:
        error = GraphQLError(text, extensions={"code": code, "retryAfter": int(retry_after)})
        with contextlib.suppress(Exception):  # the client may be gone already
            await self.send_message(ErrorMessage(id=message["id"], type="error", payload=[error.formatted]))
