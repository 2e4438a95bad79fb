"""updateCustomAttributes: property operations on one user's custom attributes."""

from __future__ import annotations

import strawberry

from app.domain import users
from app.domain.attributes import NULL, TypedValue
from app.domain.errors import DomainError, ErrorCode
from app.domain.profile import UserPatch as DomainUserPatch
from app.graphql.access import Info, owned_user
from app.graphql.errors import collect_user_errors
from app.graphql.inputs import given
from app.graphql.inputs.attributes import AttributeOp
from app.graphql.inputs.refs import UserRef
from app.graphql.types.payloads import UserPayload
from app.graphql.types.user import User


def _as_patch(ops: list[AttributeOp]) -> DomainUserPatch:
    changes: list[tuple[str, TypedValue]] = []
    for index, op in enumerate(ops):
        if given(op.set):
            changes.append((op.set.key, op.set.value.to_domain()))
        elif given(op.unset):
            changes.append((op.unset, NULL))
        else:
            raise DomainError(
                ErrorCode.INVALID_INPUT, "this operation is not supported yet", ("ops", str(index))
            )
    return DomainUserPatch(custom_attributes=changes)


@strawberry.type
class AttributeMutations:
    @strawberry.mutation(description="Apply property operations to a user's custom attributes, all or nothing.")
    async def update_custom_attributes(self, info: Info, by: UserRef, ops: list[AttributeOp]) -> UserPayload:
        context = info.context

        async def work() -> dict[str, object]:
            owner = await owned_user(info, by.to_domain())
            return await users.update_user(
                context.store, owner["appId"], context.principal.actor, users.UserRef("id", owner["_id"]),
                _as_patch(ops), path=("ops",),
            )

        document, errors = await collect_user_errors(work)
        return UserPayload(user=User.of(document) if document else None, user_errors=errors)
