"""userErrors (expected failures as data) and the GraphQL errors clients may see."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError

from app.domain.errors import DomainError, DomainErrors, ErrorCode

strawberry.enum(ErrorCode, name="UserErrorCode", description="Why an input was refused.")
# strawberry.enum registers the class itself; an alias (not the call's result) keeps it usable as a type.
UserErrorCode = ErrorCode


@strawberry.type(description="An expected failure: what was wrong with the input, and where.")
class UserError:
    code: UserErrorCode = strawberry.field(description="Machine-readable reason.")
    message: str = strawberry.field(description="Human-readable explanation.")
    field: list[str] | None = strawberry.field(description='Path into the input, e.g. ["patch","phones","1"].')

    @classmethod
    def of(cls, error: DomainError) -> UserError:
        return cls(code=error.code, message=error.message, field=list(error.field) or None)


def user_errors(error: DomainError | DomainErrors) -> list[UserError]:
    errors = error.errors if isinstance(error, DomainErrors) else [error]
    return [UserError.of(item) for item in errors]


class ClientError(GraphQLError):
    """A top-level error meant for the client (never masked), with ``extensions.code``."""

    def __init__(self, message: str, code: str, **extensions: Any) -> None:
        super().__init__(message, extensions={"code": code, **extensions})
