"""updateCustomAttributes: property operations on one user's custom attributes."""

from __future__ import annotations

import strawberry

from app.domain import limits, users
from app.domain.attributes import NULL, TypedValue
from app.domain.errors import DomainError, DomainErrors, ErrorCode
from app.domain.profile import UserPatch as DomainUserPatch
from app.graphql.access import Info, owned_user
from app.graphql.errors import collect_user_errors
from app.graphql.inputs import given
from app.graphql.inputs.attributes import AttributeOp
from app.graphql.inputs.refs import UserRef
from app.graphql.types.payloads import UserPayload
from app.graphql.types.user import User


def _as_patch(ops: list[AttributeOp]) -> tuple[DomainUserPatch, list[str]]:
    """The patch, and for each of its changes the name of the operation it came from."""
    if len(ops) > limits.MAX_OPERATIONS_PER_CALL:
        raise DomainError(
            ErrorCode.LIMIT_EXCEEDED, f"at most {limits.MAX_OPERATIONS_PER_CALL} operations per call", ("ops",)
        )
    changes: list[tuple[str, TypedValue]] = []
    names: list[str] = []
    for index, op in enumerate(ops):
        if given(op.set):
            changes.append((op.set.key, op.set.value.to_domain()))
            names.append("set")
        elif given(op.unset):
            changes.append((op.unset, NULL))
            names.append("unset")
        else:
            raise DomainError(
                ErrorCode.INVALID_INPUT, "this operation is not supported yet", ("ops", str(index))
            )
    return DomainUserPatch(custom_attributes=changes), names


def _op_path(field: tuple[str, ...], names: list[str]) -> tuple[str, ...]:
    """("ops","customAttributes",i,"key"|"value",...) → the operation's own input path."""
    if field[:2] != ("ops", "customAttributes"):
        return field
    if len(field) == 2:  # a limit on all of the user's attributes
        return ("ops",)
    index = int(field[2])
    if names[index] == "unset":  # `unset` is the key itself
        return ("ops", field[2], "unset")
    return ("ops", field[2], names[index], *field[3:])


@strawberry.type
class AttributeMutations:
    @strawberry.mutation(description="Apply property operations to a user's custom attributes, all or nothing.")
    async def update_custom_attributes(self, info: Info, by: UserRef, ops: list[AttributeOp]) -> UserPayload:
        context = info.context

        async def work() -> dict[str, object]:
            owner = await owned_user(info, by.to_domain())
            patch, names = _as_patch(ops)
            try:
                return await users.update_user(
                    context.store, owner["appId"], context.principal.actor, users.UserRef("id", owner["_id"]),
                    patch, path=("ops",),
                )
            except DomainError as error:
                raise DomainError(error.code, error.message, _op_path(error.field, names)) from None
            except DomainErrors as errors:
                raise DomainErrors(
                    DomainError(error.code, error.message, _op_path(error.field, names)) for error in errors.errors
                ) from None

        document, errors = await collect_user_errors(work)
        return UserPayload(user=User.of(document) if document else None, user_errors=errors)
