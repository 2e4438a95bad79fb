"""Payloads of the installation and identity mutations."""

from __future__ import annotations

import strawberry

from app.graphql.errors import UserError
from app.graphql.types.installation import Installation
from app.graphql.types.user import User


@strawberry.type(description="The installation, or userErrors saying why nothing changed.")
class InstallationPayload:
    installation: Installation | None
    session_token: str | None = strawberry.field(
        description="For X-Session-Token: returned when an anonymous user was created for the "
        "installation (anonymous registration, depersonalize). Shown once; only its hash is stored."
    )
    user_errors: list[UserError]


@strawberry.type(description="The user the installation now belongs to, and the installation.")
class PersonalizePayload:
    user: User | None
    installation: Installation | None
    user_errors: list[UserError]
