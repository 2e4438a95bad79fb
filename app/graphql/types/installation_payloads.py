"""Payloads of the installation and identity mutations."""

from __future__ import annotations

from typing import Any, Protocol

import strawberry

from app.graphql.errors import UserError
from app.graphql.types.installation import Installation
from app.graphql.types.user import User


class InstallationResult(Protocol):
    """What saveInstallation and depersonalize get from the domain."""

    @property
    def installation(self) -> dict[str, Any]: ...

    @property
    def session_token(self) -> str | None: ...


@strawberry.type(description="The installation, or userErrors saying why nothing changed.")
class InstallationPayload:
    installation: Installation | None = strawberry.field(
        description="The installation; null when userErrors say why nothing changed."
    )
    session_token: str | None = strawberry.field(
        description="For X-Session-Token: returned when an anonymous user was created for the "
        "installation (anonymous registration, depersonalize). Shown once; only its hash is stored."
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed, if so.")

    @classmethod
    def of(cls, result: InstallationResult | None, errors: list[UserError]) -> InstallationPayload:
        if result is None:
            return cls(installation=None, session_token=None, user_errors=errors)
        return cls(
            installation=Installation.of(result.installation), session_token=result.session_token, user_errors=[]
        )


@strawberry.type(description="The user the installation now belongs to, and the installation.")
class PersonalizePayload:
    user: User | None = strawberry.field(description="The user the installation now belongs to.")
    installation: Installation | None = strawberry.field(description="The installation.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed, if so.")
