"""graphql-transport-ws with the limits of HTTP: the failed-authentication limit per client
address guards ``connection_init``, and every ``subscribe`` spends a token of the app's rate.

Close codes are the protocol's: a refused ``connection_init`` (bad credentials, or an address
that failed too often) closes the socket with ``4403: Forbidden``; ``4429`` means only a
second ``connection_init`` there. A rate-limited ``subscribe`` gets the protocol's ``error``
message for its id (code RATE_LIMITED) and the connection stays open.

Only subscriptions run here: queries and mutations go over HTTP, where persisted-query
allow-lists, Idempotency-Key and the HTTP request rules apply (``error``, code BAD_REQUEST).
"""

from __future__ import annotations

import contextlib
from typing import Any

from graphql import GraphQLError, parse
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import BaseGraphQLTransportWSHandler
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    ConnectionInitMessage,
    ErrorMessage,
    SubscribeMessage,
)
from strawberry.types.graphql import OperationType
from strawberry.utils.operation import get_operation_type

from app.graphql.context import Context
from app.http import rate_limit
from app.http.auth_failure_limit import ADDRESS_LIMITED
from app.http.local_buckets import LocalBuckets
from app.http.rate_limit import RateLimiter, Refusal, client_address, spend_request

CLOSE_FORBIDDEN = 4403
USER_LIMITED = Refusal("user", rate_limit.USER_LIMITED, 0).message  # as the HTTP refusal words it
SUBSCRIPTIONS_ONLY = "this socket carries subscriptions; send queries and mutations over HTTP (POST /graphql)"


class LimitedTransportWS(BaseGraphQLTransportWSHandler[Context, None]):
    """Strawberry's graphql-transport-ws handler; the view holds the limiters
    (``auth_failures`` and ``rate_limiter``, each None when switched off)."""

    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        limiter: RateLimiter | None = getattr(self.view, "auth_failures", None)
        address = client_address(self.context.request.scope)
        if limiter is not None and address is not None and limiter.blocked(address) is not None:
            # Refused from memory, before the credential costs a store look-up.
            self.connection_init_received = True
            if self.connection_init_timeout_task is not None:
                self.connection_init_timeout_task.cancel()
            await self.websocket.close(code=CLOSE_FORBIDDEN, reason=ADDRESS_LIMITED)
            return
        await super().handle_connection_init(message)

    async def handle_subscribe(self, message: SubscribeMessage) -> None:
        if self.connection_acknowledged:
            limiter: RateLimiter | None = getattr(self.view, "rate_limiter", None)
            end_users: LocalBuckets | None = getattr(self.view, "end_users", None)
            refusal = await spend_request(self.context.principal, limiter, end_users)
            if refusal is not None:
                count_refusal = getattr(self.view, "count_refusal", None)
                if count_refusal is not None:
                    count_refusal(refusal.limit)
                retry_after = int(RateLimiter.retry_after_header(refusal.wait))
                extensions = {"code": "RATE_LIMITED", "retryAfter": retry_after}
                await self._refuse(message, refusal.message, extensions)
                return
        if self.connection_acknowledged and self._operation_type(message) not in (None, OperationType.SUBSCRIPTION):
            await self._refuse(message, SUBSCRIPTIONS_ONLY, {"code": "BAD_REQUEST"})
            return
        await super().handle_subscribe(message)

    def _operation_type(self, message: SubscribeMessage) -> OperationType | None:
        """The type of the operation to run; None when the document does not parse or name it
        (Strawberry then reports that as for any request)."""
        payload: Any = message.get("payload")
        query = payload.get("query") if isinstance(payload, dict) else None
        name = payload.get("operationName") if isinstance(payload, dict) else None
        if not isinstance(query, str) or not (name is None or isinstance(name, str)):
            return None
        try:
            # Bounded like every document: the token limit applies while parsing.
            document = parse(query, max_tokens=self.context.settings.max_query_tokens)
            return get_operation_type(document, name)
        except (GraphQLError, RuntimeError):
            return None

    async def _refuse(self, message: SubscribeMessage, text: str, extensions: dict[str, Any]) -> None:
        error = GraphQLError(text, extensions=extensions)
        with contextlib.suppress(Exception):  # the client may be gone already
            await self.send_message(ErrorMessage(id=message["id"], type="error", payload=[error.formatted]))
