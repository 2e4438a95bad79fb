"""Helpers resolvers use to reach the store within the caller's scope."""

from __future__ import annotations

from typing import Any

import strawberry

from app.auth import scopes
from app.auth.principal import Principal, Scope
from app.domain.errors import not_found
from app.domain.users import UserRef, find_user, get_user, user_id_of
from app.graphql.context import Context

Info = strawberry.Info[Context, None]


def names_caller(principal: Principal, ref: UserRef) -> bool:
    """Whether ``ref`` names the caller itself (user token: its sub; session: its user id)."""
    if principal.scope is Scope.USER:
        return ref.kind == "externalUserId" and ref.value == principal.external_user_id
    if principal.scope is Scope.SESSION:
        return ref.kind == "id" and ref.value == principal.user_id
    return False


async def owned_user_ref(info: Info, by: Any, field: tuple[str, ...] = ("by",)) -> UserRef:
    """The user a GraphQL ``UserRef`` argument names, by id, once checked against the caller's
    scope. An app token may act on any user of its app, so nothing about the user is checked
    here and the user is not read: the write that follows reads it (NOT_FOUND there)."""
    ref = by.to_domain(field)
    if info.context.principal.scope is Scope.APP:
        return await user_id_of(info.context.store, scopes.require_tenant(info.context.principal), ref, field)
    owner = await owned_user(info, ref, field)
    return UserRef("id", owner["_id"])


async def owned_user(info: Info, ref: UserRef, field: tuple[str, ...] = ("by",)) -> dict[str, Any]:
    """The user ``ref`` names, if the caller may act on it. Outside the caller's scope it
    is FORBIDDEN; another app's users simply do not exist (NOT_FOUND)."""
    context = info.context
    principal = context.principal
    app_id = scopes.require_tenant(principal)
    if principal.scope is Scope.APP:
        return await get_user(context.store, app_id, ref, field)
    document = await find_user(context.store, app_id, ref, field)
    if document is None:
        # FORBIDDEN whether or not someone else holds the identifier: answering NOT_FOUND
        # for free ones would let a user token probe which emails and ids are registered.
        if names_caller(principal, ref):
            raise not_found("the user", field)
        raise scopes.Forbidden()
    scopes.require_owner(principal, document)
    return document
