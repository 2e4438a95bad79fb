"""Admin-scope mutations: apps and their signing keys."""

from __future__ import annotations

import strawberry

from app.auth import scopes
from app.domain import apps
from app.graphql.access import Info
from app.graphql.errors import collect_user_errors
from app.graphql.types.apps import App, AppKey, AppKeyPayload, CreateAppPayload


def _issued(key: apps.IssuedKey) -> AppKey:
    return AppKey(
        id=strawberry.ID(key.id), app_id=strawberry.ID(key.app_id), secret=key.secret, created_at=key.created_at
    )


@strawberry.type
class AppMutations:
    @strawberry.mutation(description="Create an app and its first key (admin scope).")
    async def create_app(self, info: Info, name: str) -> CreateAppPayload:
        context = info.context
        scopes.require_admin(context.principal)
        result, errors = await collect_user_errors(lambda: apps.create_app(context.store, context.box, name))
        if result is None:
            return CreateAppPayload(app=None, key=None, user_errors=errors)
        app, key = result
        return CreateAppPayload(
            app=App(id=strawberry.ID(app["_id"]), name=app["name"], created_at=app["createdAt"]),
            key=_issued(key),
            user_errors=[],
        )

    @strawberry.mutation(description="Add a key to an app, e.g. to rotate keys. The secret is shown once.")
    async def create_app_key(self, info: Info, app_id: strawberry.ID) -> AppKeyPayload:
        context = info.context
        scopes.require_admin(context.principal)
        key, errors = await collect_user_errors(lambda: apps.create_app_key(context.store, context.box, app_id))
        return AppKeyPayload(key=_issued(key) if key else None, user_errors=errors)

    @strawberry.mutation(description="Revoke a key: tokens it signed stop working at once.")
    async def revoke_app_key(self, info: Info, app_id: strawberry.ID, key_id: strawberry.ID) -> AppKeyPayload:
        context = info.context
        scopes.require_admin(context.principal)
        key, errors = await collect_user_errors(lambda: apps.revoke_app_key(context.store, app_id, key_id))
        if key is None:
            return AppKeyPayload(key=None, user_errors=errors)
        return AppKeyPayload(
            key=AppKey(
                id=strawberry.ID(key["_id"]),
                app_id=strawberry.ID(key["appId"]),
                secret=None,
                created_at=key["createdAt"],
                revoked_at=key["revokedAt"],
            ),
            user_errors=[],
        )
