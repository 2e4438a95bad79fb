"""Apps (tenants) and their keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.relay import PageInfo

from app.domain import apps
from app.domain.app_settings import AppSettings as StoredSettings
from app.graphql.access import Info
from app.graphql.errors import UserError


@strawberry.type(description="A tenant: every user, installation and key belongs to exactly one app.")
class App:
    id: strawberry.ID = strawberry.field(description="The app's id (X-App-Id).")
    name: str = strawberry.field(description="Display name.")
    created_at: datetime = strawberry.field(description="When the app was created.")
    settings: AppSettings = strawberry.field(description="How the app treats the profiles it keeps.")
    # Filled in by the `apps` listing (one query for the whole page); else read when asked for.
    loaded_keys: strawberry.Private[list[dict[str, Any]] | None] = None

    @strawberry.field(description="The app's active keys, oldest first: ids and dates, never secrets.")
    async def keys(self, info: Info) -> list[AppKey]:
        found = self.loaded_keys
        if found is None:
            found = (await apps.active_keys(info.context.store, [str(self.id)]))[str(self.id)]
        return [AppKey.listed(key) for key in found]

    @classmethod
    def of(cls, app: dict[str, Any], loaded_keys: list[dict[str, Any]] | None = None) -> App:
        return cls(
            id=strawberry.ID(app["_id"]),
            name=app["name"],
            created_at=app["createdAt"],
            settings=AppSettings.of(StoredSettings.of(app)),
            loaded_keys=loaded_keys,
        )


@strawberry.type(description="Per-app settings, set by an admin with createApp or updateApp.")
class AppSettings:
    external_user_id_as_email: bool = strawberry.field(
        description="An externalUserId that is a valid email address is also added as an email "
        "identifier of its user (true unless turned off)."
    )
    anonymous_lead_retention_days: int | None = strawberry.field(
        description="Days after which this app's idle anonymous leads (no identifier, no contact data, "
        "not written nor seen on a device) are erased; 0 keeps them. Null: the gateway's "
        "ANONYMOUS_LEAD_RETENTION_DAYS."
    )

    @classmethod
    def of(cls, settings: StoredSettings) -> AppSettings:
        return cls(
            external_user_id_as_email=settings.external_user_id_as_email,
            anonymous_lead_retention_days=settings.anonymous_lead_retention_days,
        )


@strawberry.input(
    description="Per-app settings to change; omitted fields keep their value, and so do null ones unless a "
    "field says what null means."
)
class AppSettingsInput:
    external_user_id_as_email: bool | None = strawberry.field(
        default=None,
        description="Also add an externalUserId that is a valid email address as an email identifier "
        "(default true). Who may claim it follows the identity rules: app tokens, and user tokens "
        "whose signed `email` claim is the same address.",
    )
    anonymous_lead_retention_days: strawberry.Maybe[int | None] = strawberry.field(
        description="Erase this app's idle anonymous leads after this many days (0: keep them; at most "
        "36500). Null: follow the gateway's ANONYMOUS_LEAD_RETENTION_DAYS again; omitted: unchanged.",
    )


@strawberry.type(description="The app as changed, or userErrors.")
class AppPayload:
    app: App | None = strawberry.field(description="The app.")
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused; empty on success.")


@strawberry.type(description="A signing key of an app. `secret` is returned once, when the key is created.")
class AppKey:
    id: strawberry.ID = strawberry.field(description="The key id: the `kid` header of tokens signed with it.")
    app_id: strawberry.ID = strawberry.field(description="The app the key belongs to.")
    secret: str | None = strawberry.field(description="Shown only in the payload that created the key.")
    created_at: datetime = strawberry.field(description="When the key was created.")
    revoked_at: datetime | None = strawberry.field(default=None, description="When the key was revoked, if it was.")

    @classmethod
    def listed(cls, key: dict[str, Any]) -> AppKey:
        """A stored key without its secret."""
        return cls(
            id=strawberry.ID(key["_id"]),
            app_id=strawberry.ID(key["appId"]),
            secret=None,
            created_at=key["createdAt"],
            revoked_at=key.get("revokedAt"),
        )


@strawberry.type(description="The new app and its first key, or userErrors.")
class CreateAppPayload:
    app: App | None = strawberry.field(description="The new app.")
    key: AppKey | None = strawberry.field(description="Its first key; the secret is shown only here.")
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused; empty on success.")


@strawberry.type(description="The key created or revoked, or userErrors.")
class AppKeyPayload:
    key: AppKey | None = strawberry.field(description="The key.")
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused; empty on success.")


@strawberry.type(description="One page of apps in id order, with their active keys (admin scope).")
class AppList:
    nodes: list[App] = strawberry.field(description="The apps of this page.")
    page_info: PageInfo = strawberry.field(description="Whether more apps follow; pass `endCursor` as `after`.")
    user_errors: list[UserError] = strawberry.field(description="Why the paging arguments were refused.")
