"""Apps (tenants) and their keys."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.graphql.errors import UserError


@strawberry.type(description="A tenant: every user, installation and key belongs to exactly one app.")
class App:
    id: strawberry.ID = strawberry.field(description="The app's id (X-App-Id).")
    name: str = strawberry.field(description="Display name.")
    created_at: datetime = strawberry.field(description="When the app was created.")


@strawberry.type(description="A signing key of an app. `secret` is returned once, when the key is created.")
class AppKey:
    id: strawberry.ID = strawberry.field(description="The key id: the `kid` header of tokens signed with it.")
    app_id: strawberry.ID = strawberry.field(description="The app the key belongs to.")
    secret: str | None = strawberry.field(description="Shown only in the payload that created the key.")
    created_at: datetime = strawberry.field(description="When the key was created.")
    revoked_at: datetime | None = strawberry.field(default=None, description="When the key was revoked, if it was.")


@strawberry.type(description="The new app and its first key, or userErrors.")
class CreateAppPayload:
    app: App | None = strawberry.field(description="The new app.")
    key: AppKey | None = strawberry.field(description="Its first key; the secret is shown only here.")
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused; empty on success.")


@strawberry.type(description="The key created or revoked, or userErrors.")
class AppKeyPayload:
    key: AppKey | None = strawberry.field(description="The key.")
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused; empty on success.")
