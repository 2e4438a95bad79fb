"""Live changes over graphql-transport-ws on /graphql: ``subscription { userChanges }``.

Authentication happens in ``connection_init`` (payload ``{"Authorization": "Bearer …"}`` or
``{"x-session-token": "…"}``) with the same checks as HTTP. A connection ends (close code
4401) when its token expires or its session stops being valid; each subscription re-checks
that on every poll, and a store read answers the re-checks of every connection with that
credential for a second (app/auth/rechecks.py). The changes come from the outbox, polled every
``subscription_poll_ms`` (so a change made through any gateway process is seen), once per
interval for all of the process's subscriptions to the app (app/store/outbox_watch.py): a
look at the app's event counter, and the outbox read only when it has moved.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, cast

import jwt
import strawberry
from starlette.websockets import WebSocket

from app.auth import scopes
from app.auth.principal import Principal
from app.auth.principal import Scope as Role
from app.auth.rechecks import CredentialRechecks
from app.domain import users
from app.domain.errors import DomainError, ErrorCode
from app.domain.events import USER_DELETED, USER_MERGED, global_user_id
from app.graphql.access import Info, names_caller, owned_user
from app.graphql.context import Context, Loaders
from app.graphql.errors import ClientError
from app.graphql.ids import decode_any
from app.graphql.inputs.refs import UserRef
from app.graphql.pipeline import TENANT, app_id_of, subscription
from app.graphql.types.user import User
from app.store import outbox
from app.store.outbox_watch import OutboxWatch

CLOSE_EXPIRED = 4401
RECHECK_SECONDS = 1.0


@dataclass(slots=True)
class SocketContext(Context):
    """The context of one websocket connection (Strawberry fills ``connection_params``)."""

    connection_params: dict[str, Any] | None = None
    outbox_watch: OutboxWatch | None = None  # the view's, shared by the process's subscriptions
    rechecks: CredentialRechecks | None = None  # the view's, shared by the process's connections


@dataclass(slots=True)
class Connection:
    """What ``connection_init`` established, kept on the websocket's state."""

    principal: Principal
    expires_at: datetime | None
    headers: dict[str, str]
    subscriptions: int = 0
    checked_at: float = 0.0


def expiry_of(headers: dict[str, str]) -> datetime | None:
    token = headers.get("authorization", "").partition(" ")[2]
    if not token:
        return None
    # Already verified by authenticate(); only the expiry is read here.
    claims = jwt.decode(token, options={"verify_signature": False})
    return datetime.fromtimestamp(int(claims["exp"]), UTC)


async def _still_valid(context: Context, connection: Connection) -> bool:
    """The token has not expired and, re-checked at most every RECHECK_SECONDS (once for all
    the process's connections with this credential), still passes the checks of
    connection_init (key not revoked, session not voided)."""
    if connection.expires_at is not None and datetime.now(UTC) >= connection.expires_at:
        return False
    now = asyncio.get_running_loop().time()
    if now - connection.checked_at < RECHECK_SECONDS:
        return True
    connection.checked_at = now
    rechecks = cast(SocketContext, context).rechecks
    if rechecks is None:
        raise RuntimeError("a subscription runs in the SubscriptionView, which gives the re-checks")
    return await rechecks.still_valid(connection.headers)


@strawberry.type(description="One change to the watched user.")
class UserChange:
    type: str = strawberry.field(description="The change event's type (user.updated, channel.added, …).")
    user: User | None = strawberry.field(description="The user after the change; null once deleted.")


@strawberry.type(description="Live changes, over graphql-transport-ws on /graphql.")
class Subscription:
    @subscription(
        scopes=TENANT,
        description=(
            "Changes to one user as they commit. App tokens name the user with `by`; user and "
            "session tokens omit it and watch their own profile."
        ),
    )
    async def user_changes(
        self,
        info: Info,
        by: Annotated[
            UserRef | None,
            strawberry.argument(description="The user to watch (app tokens); user and session tokens omit it."),
        ] = None,
    ) -> AsyncGenerator[UserChange]:
        context = info.context
        websocket = context.request
        connection: Connection | None = getattr(websocket.state, "connection", None)
        if connection is None:
            raise ClientError("subscriptions need a graphql-transport-ws connection", "BAD_REQUEST")
        principal = context.principal
        app_id = app_id_of(info)
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
    watch = cast(SocketContext, context).outbox_watch
    if watch is None:
        raise RuntimeError("a subscription runs in the SubscriptionView, which gives the outbox watch")
    position = await outbox.number_handed_out(context.store, app_id)
    watched = global_user_id(user_id)
    more = False
    while True:
        if not await _still_valid(context, connection):
            with contextlib.suppress(RuntimeError):
                socket = cast(WebSocket, context.request)
                await socket.close(code=CLOSE_EXPIRED, reason="credentials expired or revoked")
            return
        if more:  # catching up on a backlog: the next page at once, one read for all at it
            page = await watch.page_now(app_id, position)
        else:  # the poll all of the process's subscriptions of the app share
            page = await watch.next_page(app_id, position)
        position, more = page.last_seq, page.more
        for entry in page.entries:
            if entry["type"] == USER_MERGED and entry.get("sourceUserId") == watched:
                # The watched user was merged into another: the survivor carries on.
                watched = entry["userId"]
            if entry["userId"] != watched:
                continue
            if entry["type"] == USER_DELETED:
                yield UserChange(type=entry["type"], user=None)
                return
            context.loaders = Loaders(context.store, app_id)  # fresh reads for every change
            fresh = await context.loaders.user_by_id.load(_raw_id(watched))
            yield UserChange(type=entry["type"], user=User.of(fresh) if fresh else None)


def _raw_id(global_id: str) -> str:
    decoded = decode_any(global_id)
    return decoded[1] if decoded else ""
