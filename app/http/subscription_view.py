"""The websocket side of /graphql: graphql-transport-ws connections for ``userChanges``.

Authentication happens in ``connection_init`` with the same checks and limits as HTTP (a
failed one counts against the client address, app/http/subscription_protocol.py); the
subscription itself (app/graphql/subscriptions.py) re-checks the connection on every poll.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import timedelta
from typing import Any

from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from app.auth.authenticate import authenticate
from app.auth.principal import Principal
from app.auth.principal import Scope as Role
from app.auth.rechecks import CredentialRechecks
from app.auth.tokens import InvalidToken
from app.config import Settings
from app.crypto import SecretBox
from app.graphql.context import Context, Loaders
from app.graphql.schema import Schema
from app.graphql.subscriptions import RECHECK_SECONDS, Connection, SocketContext, expiry_of
from app.http.graphql_view import GraphQLView
from app.http.local_buckets import LocalBuckets
from app.http.rate_limit import RateLimiter, app_bucket, client_address, end_user_bucket
from app.http.subscription_protocol import LimitedTransportWS
from app.observability.metrics import Metrics
from app.store.client import Store
from app.store.outbox_watch import OutboxWatch

log = logging.getLogger("app.http")


class SubscriptionView(GraphQLView):
    """The websocket side of /graphql (graphql-transport-ws only)."""

    graphql_transport_ws_handler_class = LimitedTransportWS

    def __init__(
        self,
        schema: Schema,
        settings: Settings,
        store: Store,
        box: SecretBox,
        *,
        outbox_watch: OutboxWatch,
        rate_limiter: RateLimiter | None = None,
        auth_failures: RateLimiter | None = None,
        end_users: LocalBuckets | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        """The limiters are the ones HTTP uses (None: off), so both paths share one budget;
        ``outbox_watch`` gives every subscription of the process its app's shared polls."""
        super().__init__(schema, settings, store, box)
        self.outbox_watch = outbox_watch
        self.rechecks = CredentialRechecks(settings, store, box, RECHECK_SECONDS)
        self.protocols = (GRAPHQL_TRANSPORT_WS_PROTOCOL,)
        # Open connections per side of an app (its backend, its end users: ``app_bucket``) and per
        # end user (``end_user_bucket``), so neither one user nor the end users together can take
        # every place of the app.
        self.connections: Counter[str] = Counter()
        self.rate_limiter = rate_limiter
        self.auth_failures = auth_failures
        self.end_users = end_users
        self.metrics = metrics
        self.connection_init_wait_timeout = timedelta(seconds=settings.subscription_init_timeout_seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            for key in scope.get("state", {}).get("connection_places", ()):
                self.connections[key] -= 1
                if self.connections[key] <= 0:
                    del self.connections[key]

    async def get_context(self, request: Any, response: Any) -> SocketContext:
        request.state.request_id = getattr(request.state, "request_id", None) or "ws"
        base = await super().get_context(request, response)
        fields = {name: getattr(base, name) for name in Context.__dataclass_fields__}
        return SocketContext(**fields, outbox_watch=self.outbox_watch, rechecks=self.rechecks)

    async def on_ws_connect(self, context: Any) -> None:
        params = context.connection_params or {}
        headers = {
            name: value
            for name, value in (
                ("authorization", params.get("Authorization") or params.get("authorization")),
                ("x-session-token", params.get("x-session-token") or params.get("sessionToken")),
            )
            if isinstance(value, str)
        }
        websocket: WebSocket = context.request
        if not headers:
            await self._count_failure(websocket)
            raise ConnectionRejectionError()
        try:
            principal = await authenticate(headers, self.settings, self.store, self.box)
        except InvalidToken:
            await self._count_failure(websocket)
            raise ConnectionRejectionError() from None
        if principal.scope not in (Role.APP, Role.USER, Role.SESSION) or principal.app_id is None:
            raise ConnectionRejectionError()
        app_id = principal.app_id
        websocket.state.connection_places = self._take_places(principal)
        loop = asyncio.get_running_loop()
        websocket.state.connection = Connection(principal, expiry_of(headers), headers, checked_at=loop.time())
        context.principal = principal
        context.loaders = Loaders(self.store, app_id)

    def _take_places(self, principal: Principal) -> tuple[str, ...]:
        """The keys of the places this connection holds until it closes, or a refusal."""
        bucket = app_bucket(principal)
        side = bucket.key if bucket is not None else None
        user = end_user_bucket(principal)
        refused = None
        if side is not None and self.connections[side] >= self.settings.subscription_max_connections_per_app:
            refused = ("connections-app", "too many connections for this app")
        elif user is not None and self.connections[user] >= self.settings.subscription_max_connections_per_user:
            refused = ("connections-user", "too many connections for this user")
        if refused is not None:
            limit, reason = refused
            # The client sees 4403 (graphql-transport-ws has no reason for a refused init); the log
            # and the metrics say which limit.
            log.info(
                "websocket refused: %s",
                reason,
                extra={"app_id": principal.app_id, "scope": str(principal.scope), "limited_by": limit},
            )
            self.count_refusal(limit)
            raise ConnectionRejectionError({"message": reason})
        places = tuple(key for key in (side, user) if key is not None)
        for key in places:
            self.connections[key] += 1
        return places

    def count_refusal(self, limit: str) -> None:
        """A connection or a subscribe refused by ``limit``, in the metric HTTP's 429s go to."""
        if self.metrics is not None:
            self.metrics.refused(limit)

    async def _count_failure(self, websocket: WebSocket) -> None:
        """A refused credential costs the address a token, as an HTTP 401 does."""
        address = client_address(websocket.scope)
        if self.auth_failures is not None and address is not None:
            await self.auth_failures.acquire(address)
