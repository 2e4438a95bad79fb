"""Apps (tenants) and their keys."""

from __future__ import annotations

from datetime import datetime

import strawberry

from app.graphql.errors import UserError


@strawberry.type(description="A tenant: every user, installation and key belongs to exactly one app.")
class App:
    id: strawberry.ID
    name: str
    created_at: datetime


@strawberry.type(description="A signing key of an app. `secret` is returned once, when the key is created.")
class AppKey:
    id: strawberry.ID
    app_id: strawberry.ID
    secret: str | None = strawberry.field(description="Shown only in the payload that created the key.")
    created_at: datetime
    revoked_at: datetime | None = None


@strawberry.type
class CreateAppPayload:
    app: App | None
    key: AppKey | None
    user_errors: list[UserError]


@strawberry.type
class AppKeyPayload:
    key: AppKey | None
    user_errors: list[UserError]
