"""The plumbing of mutations that change one user the caller may act on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from app.domain import users
from app.domain.actor import Actor
from app.graphql.access import Info, owned_user
from app.graphql.errors import collect_user_errors
from app.graphql.inputs.refs import UserRef
from app.graphql.types.payloads import UserPayload
from app.store.client import Store


@dataclass(frozen=True, slots=True)
class OwnedUser:
    """What a domain call needs to change the user: the store, its app, who acts, and the
    user named by id (already checked against the caller's scope)."""

    store: Store
    app_id: str
    actor: Actor
    id: str

    @property
    def ref(self) -> users.UserRef:
        return users.UserRef("id", self.id)


async def change_owned_user(
    info: Info, by: UserRef, change: Callable[[OwnedUser], Awaitable[dict[str, Any]]]
) -> UserPayload:
    """Resolve ``by`` within the caller's scope, then ``change`` it; expected failures (from
    either step) become userErrors, FORBIDDEN stays a GraphQL error."""
    context = info.context

    async def work() -> dict[str, Any]:
        owner = await owned_user(info, by.to_domain())
        return await change(OwnedUser(context.store, owner["appId"], context.principal.actor, owner["_id"]))

    document, errors = await collect_user_errors(work)
    return UserPayload.of(document, errors)
