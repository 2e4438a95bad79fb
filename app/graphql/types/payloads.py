"""Mutation payloads shared by several features."""

from __future__ import annotations

import strawberry

from app.graphql.errors import UserError
from app.graphql.types.user import User


@strawberry.type(description="The affected user, or userErrors saying why nothing changed.")
class UserPayload:
    user: User | None
    user_errors: list[UserError]


@strawberry.type
class DeleteUserPayload:
    deleted_user_id: strawberry.ID | None
    user_errors: list[UserError]
