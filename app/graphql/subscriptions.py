"""Live changes over graphql-transport-ws on /graphql: ``subscription { userChanges }``.

Authentication happens in ``connection_init`` (payload ``{"Authorization": "Bearer …"}`` or
``{"x-session-token": "…"}``) with the same checks as HTTP. A connection ends (close code
4401) when its token expires or its session stops being valid; each subscription re-checks
that on every poll. The changes come from the outbox, polled every
``subscription_poll_ms`` (so a change made through any gateway process is seen).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import jwt
import strawberry
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from app.auth import scopes
from app.auth.authenticate import authenticate
from app.auth.principal import Principal
from app.auth.principal import Scope as Role
from app.auth.tokens import InvalidToken
from app.domain import users
from app.domain.errors import DomainError, ErrorCode
from app.domain.events import USER_DELETED, USER_MERGED, global_user_id
from app.graphql.access import Info, names_caller, owned_user
from app.graphql.context import Context, build_loaders
from app.graphql.errors import ClientError
from app.graphql.ids import decode_any
from app.graphql.inputs.refs import UserRef
from app.graphql.types.user import User
from app.graphql.view import GraphQLView
from app.store import outbox

CLOSE_EXPIRED = 4401
RECHECK_SECONDS = 1.0


@dataclass(slots=True)
class SocketContext(Context):
    """The context of one websocket connection (Strawberry fills ``connection_params``)."""

    connection_params: dict[str, Any] | None = None


@dataclass(slots=True)
class Connection:
    """What ``connection_init`` established, kept on the websocket's state."""

    principal: Principal
    expires_at: datetime | None
    headers: dict[str, str]
    subscriptions: int = 0
    checked_at: float = 0.0


class SubscriptionView(GraphQLView):
    """The websocket side of /graphql (graphql-transport-ws only)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.protocols = (GRAPHQL_TRANSPORT_WS_PROTOCOL,)
        self.connections_per_app: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            connection: Connection | None = scope.get("state", {}).get("connection")
            if connection is not None and connection.principal.app_id is not None:
                self.connections_per_app[connection.principal.app_id] -= 1

    async def get_context(self, request: Any, response: Any) -> SocketContext:
        request.state.request_id = getattr(request.state, "request_id", None) or "ws"
        base = await super().get_context(request, response)
        return SocketContext(**{name: getattr(base, name) for name in Context.__dataclass_fields__})

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
        if not headers:
            raise ConnectionRejectionError()
        try:
            principal = await authenticate(headers, self.settings, self.store, self.box)
        except InvalidToken:
            raise ConnectionRejectionError() from None
        if principal.scope not in (Role.APP, Role.USER, Role.SESSION) or principal.app_id is None:
            raise ConnectionRejectionError()
        app_id = principal.app_id
        if self.connections_per_app.get(app_id, 0) >= self.settings.subscription_max_connections_per_app:
            raise ConnectionRejectionError({"message": "too many connections for this app"})
        self.connections_per_app[app_id] = self.connections_per_app.get(app_id, 0) + 1
        websocket: WebSocket = context.request
        loop = asyncio.get_running_loop()
        websocket.state.connection = Connection(principal, _expiry(headers), headers, checked_at=loop.time())
        context.principal = principal
        context.loaders = build_loaders(self.store, app_id)


def _expiry(headers: dict[str, str]) -> datetime | None:
    token = headers.get("authorization", "").partition(" ")[2]
    if not token:
        return None
    # Already verified by authenticate(); only the expiry is read here.
    claims = jwt.decode(token, options={"verify_signature": False})
    return datetime.fromtimestamp(int(claims["exp"]), UTC)


async def _still_valid(context: Context, connection: Connection) -> bool:
    """The token has not expired and, re-checked at most every RECHECK_SECONDS, still passes
    the checks of connection_init (key not revoked, session not voided)."""
    if connection.expires_at is not None and datetime.now(UTC) >= connection.expires_at:
        return False
    now = asyncio.get_running_loop().time()
    if now - connection.checked_at < RECHECK_SECONDS:
        return True
    connection.checked_at = now
    try:
        await authenticate(connection.headers, context.settings, context.store, context.box)
    except InvalidToken:
        return False
    return True


@strawberry.type(description="One change to the watched user.")
class UserChange:
    type: str = strawberry.field(description="The change event's type (user.updated, channel.added, …).")
    user: User | None = strawberry.field(description="The user after the change; null once deleted.")


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description=(
            "Changes to one user as they commit. App tokens name the user with `by`; user and "
            "session tokens omit it and watch their own profile."
        )
    )
    async def user_changes(self, info: Info, by: UserRef | None = None) -> AsyncGenerator[UserChange]:
        context = info.context
        websocket = context.request
        connection: Connection | None = getattr(websocket.state, "connection", None)
        if connection is None:
            raise ClientError("subscriptions need a graphql-transport-ws connection", "BAD_REQUEST")
        principal = context.principal
        app_id = scopes.require_tenant(principal)
        if principal.scope is Role.APP:
            if by is None:
                raise ClientError("app tokens name the user with `by`", "BAD_USER_INPUT")
            document = await owned_user(info, by.to_domain())
        else:
            if by is not None and not names_caller(principal, by.to_domain()):
                raise scopes.Forbidden("user and session tokens watch their own profile: omit `by`")
            own = (
                users.UserRef("externalUserId", principal.external_user_id or "")
                if principal.scope is Role.USER
                else users.UserRef("id", principal.user_id or "")
            )
            try:
                document = await owned_user(info, own, ())
            except DomainError as error:
                raise ClientError(error.message, "NOT_FOUND") from None
        limit = context.settings.subscription_max_per_connection
        if connection.subscriptions >= limit:
            raise ClientError(f"at most {limit} subscriptions per connection", ErrorCode.LIMIT_EXCEEDED.value)
        connection.subscriptions += 1
        try:
            async for change in _changes(context, connection, app_id, document["_id"]):
                yield change
        finally:
            connection.subscriptions -= 1


async def _changes(context: Context, connection: Connection, app_id: str, user_id: str) -> AsyncGenerator[UserChange]:
    counter = await outbox.counters(context.store).find_one({"_id": app_id})
    position = int(counter["seq"]) if counter else 0
    interval = context.settings.subscription_poll_ms / 1000
    watched = global_user_id(user_id)
    while True:
        if not await _still_valid(context, connection):
            with contextlib.suppress(RuntimeError):
                socket = cast(WebSocket, context.request)
                await socket.close(code=CLOSE_EXPIRED, reason="credentials expired or revoked")
            return
        page = await outbox.read(context.store, app_id, position, 500, datetime.now(UTC))
        position = page.last_seq
        for entry in page.entries:
            if entry["type"] == USER_MERGED and entry.get("sourceUserId") == watched:
                # The watched user was merged into another: the survivor carries on.
                watched = entry["userId"]
            if entry["userId"] != watched:
                continue
            if entry["type"] == USER_DELETED:
                yield UserChange(type=entry["type"], user=None)
                return
            context.loaders = build_loaders(context.store, app_id)  # fresh reads for every change
            fresh = await context.loaders.user_by_id.load(_raw_id(watched))
            yield UserChange(type=entry["type"], user=User.of(fresh) if fresh else None)
        if not page.more:
            await asyncio.sleep(interval)


def _raw_id(global_id: str) -> str:
    decoded = decode_any(global_id)
    return decoded[1] if decoded else ""
