"""Helpers resolvers use to reach the store within the caller's scope."""

from __future__ import annotations

from typing import Any

import strawberry

from app.auth import scopes
from app.auth.principal import Scope
from app.domain.users import UserRef, get_user
from app.graphql.context import Context

Info = strawberry.Info[Context, None]


def context_of(info: Info) -> Context:
    return info.context


async def owned_user(info: Info, ref: UserRef, field: tuple[str, ...] = ("by",)) -> dict[str, Any]:
    """The user ``ref`` names, if the caller may act on it. Outside the caller's scope it
    is FORBIDDEN; another app's users simply do not exist (NOT_FOUND)."""
    context = info.context
    app_id = scopes.require_tenant(context.principal)
    if context.principal.scope is not Scope.APP:
        # Look the user up only after the cheap check that the ref can name the caller.
        document = await get_user(context.store, app_id, ref, field)
        scopes.require_owner(context.principal, document)
        return document
    return await get_user(context.store, app_id, ref, field)
