"""Reaching installations within the caller's scope."""

from __future__ import annotations

from typing import Any

from app.auth import scopes
from app.auth.principal import Scope
from app.domain import installations
from app.domain.users import UserRef, find_user
from app.graphql.access import Info


async def owned_installation(info: Info, push_registration_id: str, field: tuple[str, ...]) -> dict[str, Any]:
    """The installation, if the caller may act on it: FORBIDDEN when its user is outside the
    caller's scope, NOT_FOUND (a userError) when it does not exist."""
    context = info.context
    app_id = scopes.require_tenant(context.principal)
    installation = await installations.get(context.store, app_id, push_registration_id, field)
    if context.principal.scope is not Scope.APP:
        await require_owner_of(info, installation)
    return installation


async def require_may_save(info: Info, push_registration_id: str) -> None:
    """App tokens and X-App-Id callers register and update any installation of the app; user
    and session tokens may only update their own (registering a new one needs no token)."""
    context = info.context
    principal = context.principal
    if principal.scope not in (Scope.USER, Scope.SESSION):
        return
    assert principal.app_id is not None
    existing = await installations.find(context.store, principal.app_id, push_registration_id.strip())
    if existing is None:
        raise scopes.Forbidden("register new installations with the app key or with X-App-Id only")
    await require_owner_of(info, existing)


async def require_may_personalize(info: Info, push_registration_id: str) -> None:
    """A user token may personalize its own installations and anonymous ones (a login)."""
    context = info.context
    app_id = scopes.require_tenant(context.principal)
    installation = await installations.get(context.store, app_id, push_registration_id)
    user = await find_user(context.store, app_id, UserRef("id", installation["userId"]))
    if user is not None and user.get("externalUserId") not in (None, context.principal.external_user_id):
        raise scopes.Forbidden()


async def require_owner_of(info: Info, installation: dict[str, Any]) -> None:
    context = info.context
    user = await find_user(context.store, installation["appId"], UserRef("id", installation["userId"]))
    if user is None:
        raise scopes.Forbidden()
    scopes.require_owner(context.principal, user)
