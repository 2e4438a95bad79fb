"""userErrors (expected failures as data) and the GraphQL errors clients may see."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError

from app.domain.errors import DomainError, DomainErrors, ErrorCode
from app.graphql.enums import described_enum

described_enum(
    ErrorCode,
    name="UserErrorCode",
    description="Why an input was refused.",
    values={
        ErrorCode.INVALID_INPUT: "A value is malformed, out of range, or combined with one it excludes.",
        ErrorCode.INVALID_EMAIL: "Not a valid email address.",
        ErrorCode.INVALID_PHONE: "Not a valid phone number (E.164, or national with a known country).",
        ErrorCode.INVALID_KEY: "A custom attribute key or field name that is not allowed.",
        ErrorCode.RESERVED_KEY: "A custom attribute key the gateway reserves for itself.",
        ErrorCode.TYPE_MISMATCH: "A value or operation that does not fit the attribute's type.",
        ErrorCode.NOT_FOUND: "The referenced object does not exist (or is outside the caller's reach).",
        ErrorCode.USER_MERGE_INTERRUPTED: "Another user already holds an identifier this change needs; "
        "merge the users first.",
        ErrorCode.ALREADY_PERSONALIZED: "The installation is personalized with another identity "
        "(see forceDepersonalize).",
        ErrorCode.CONFLICTING_IDENTITIES: "The identifiers name different people (e.g. two externalUserIds).",
        ErrorCode.VERSION_CONFLICT: "The object changed concurrently, or is not at expectedVersion; read it and retry.",
        ErrorCode.LIMIT_EXCEEDED: "A size or count limit was exceeded.",
        ErrorCode.FORBIDDEN: "The caller may not make this change to this object.",
    },
)
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
