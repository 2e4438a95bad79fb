"""Mutation payloads shared by several features."""

from __future__ import annotations

from typing import Any

import strawberry

from app.graphql.errors import UserError
from app.graphql.types.user import User


@strawberry.type(description="The affected user, or userErrors saying why nothing changed.")
class UserPayload:
    user: User | None = strawberry.field(description="The user after the change; null when nothing changed.")
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused; empty on success.")

    @classmethod
    def of(cls, document: dict[str, Any] | None, errors: list[UserError]) -> UserPayload:
        return cls(user=User.of(document) if document else None, user_errors=errors)


@strawberry.type(description="The id of the erased user, or userErrors saying why nothing was erased.")
class DeleteUserPayload:
    deleted_user_id: strawberry.ID | None = strawberry.field(description="Global id of the erased user.")
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused; empty on success.")
