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
        ErrorCode.INVALID_INPUT: "A value of the wrong shape (a placeholder, a duplicate in one call, a bad cursor…).",
        ErrorCode.INVALID_EMAIL: "Not an RFC 5322 email address.",
        ErrorCode.INVALID_PHONE: "Not a phone number in E.164 form.",
        ErrorCode.INVALID_KEY: "A custom attribute key breaks the key rules, or is undefined under strict mode.",
        ErrorCode.RESERVED_KEY: "A custom attribute key starting with $ or ss_, or containing a dot.",
        ErrorCode.TYPE_MISMATCH: "A value of another type than the key holds or its definition says.",
        ErrorCode.NOT_FOUND: "The user, installation, channel, category or app referred to does not exist.",
        ErrorCode.USER_MERGE_INTERRUPTED: "The write would give a second user an identifier another user holds; "
        "use mergeUsers.",
        ErrorCode.ALREADY_PERSONALIZED: "The installation belongs to another identity "
        "(forceDepersonalize: true moves it).",
        ErrorCode.CONFLICTING_IDENTITIES: "The identifiers given belong to two different users, or two users "
        "with different externalUserIds would be merged.",
        ErrorCode.VERSION_CONFLICT: "The expectedVersion did not match, or the object changed too often "
        "concurrently; read it and retry.",
        ErrorCode.LIMIT_EXCEEDED: "A size or count limit was exceeded (never a silent cut).",
        ErrorCode.FORBIDDEN: "The input names something the caller may not change (e.g. saveInstallation "
        "of a registered installation with X-App-Id alone).",
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
