"""Admin-scope mutations: apps and their signing keys."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.domain import apps
from app.domain.app_settings import AppSettings, SettingsChange
from app.domain.errors import ErrorCode
from app.graphql.access import Info
from app.graphql.inputs import maybe
from app.graphql.mutations.codes import INPUT_CODES
from app.graphql.pipeline import ADMIN, mutation
from app.graphql.types.apps import App, AppKey, AppKeyPayload, AppPayload, AppSettingsInput, CreateAppPayload


def _issued(key: apps.IssuedKey) -> AppKey:
    return AppKey(
        id=strawberry.ID(key.id), app_id=strawberry.ID(key.app_id), secret=key.secret, created_at=key.created_at
    )


@strawberry.type
class AppMutations:
    @mutation(
        scopes=ADMIN,
        codes=INPUT_CODES,
        description="Create an app and its first key (admin scope).",
    )
    async def create_app(
        self,
        info: Info,
        name: Annotated[str, strawberry.argument(description="The app's display name.")],
        settings: Annotated[
            AppSettingsInput | None,
            strawberry.argument(description="Settings that differ from the defaults; omitted ones take the default."),
        ] = None,
    ) -> CreateAppPayload:
        context = info.context
        chosen = AppSettings()
        if settings is not None:
            as_email = settings.external_user_id_as_email
            retention = settings.anonymous_lead_retention_days
            chosen = AppSettings(
                external_user_id_as_email=True if as_email is None else as_email,
                anonymous_lead_retention_days=None if retention is None else retention.value,
            )
        app, key = await apps.create_app(context.store, context.box, name, chosen)
        return CreateAppPayload(app=App.of(app), key=_issued(key), user_errors=[])

    @mutation(
        scopes=ADMIN,
        codes=(ErrorCode.NOT_FOUND, ErrorCode.INVALID_INPUT),
        description="Change an app's settings (admin scope); settings not given keep their value.",
    )
    async def update_app(
        self,
        info: Info,
        app_id: Annotated[strawberry.ID, strawberry.argument(description="The app to change.")],
        settings: Annotated[AppSettingsInput, strawberry.argument(description="The settings to change.")],
    ) -> AppPayload:
        change = SettingsChange(
            external_user_id_as_email=settings.external_user_id_as_email,
            anonymous_lead_retention_days=maybe(settings.anonymous_lead_retention_days),
        )
        app = await apps.update_app_settings(info.context.store, app_id, change)
        return AppPayload(app=App.of(app), user_errors=[])

    @mutation(
        scopes=ADMIN,
        codes=(ErrorCode.NOT_FOUND, ErrorCode.LIMIT_EXCEEDED),
        description="Add a key to an app, e.g. to rotate keys. The secret is shown once.",
    )
    async def create_app_key(
        self,
        info: Info,
        app_id: Annotated[strawberry.ID, strawberry.argument(description="The app that receives the key.")],
    ) -> AppKeyPayload:
        context = info.context
        key = await apps.create_app_key(context.store, context.box, app_id)
        return AppKeyPayload(key=_issued(key), user_errors=[])

    @mutation(
        scopes=ADMIN,
        codes=(ErrorCode.NOT_FOUND,),
        description="Revoke a key: tokens it signed stop working at once.",
    )
    async def revoke_app_key(
        self,
        info: Info,
        app_id: Annotated[strawberry.ID, strawberry.argument(description="The app the key belongs to.")],
        key_id: Annotated[
            strawberry.ID, strawberry.argument(description="The key to revoke (the `kid` of the tokens it signed).")
        ],
    ) -> AppKeyPayload:
        key = await apps.revoke_app_key(info.context.store, app_id, key_id)
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
