"""Mutations on user profiles: upsert, update, tags, delete."""

from __future__ import annotations

from typing import Any

import strawberry

from app.auth import scopes
from app.domain import users
from app.graphql.access import Info
from app.graphql.errors import collect_user_errors
from app.graphql.ids import encode_id
from app.graphql.inputs.refs import UserRef
from app.graphql.inputs.users import UpsertUserInput, UserPatch
from app.graphql.mutations.owned import change_owned_user
from app.graphql.pipeline import vouched_patch
from app.graphql.types.payloads import DeleteUserPayload, UserPayload


@strawberry.type
class UserMutations:
    @strawberry.mutation(description="Create or update a user by externalUserId, or else by email or phone.")
    async def upsert_user(self, info: Info, input: UpsertUserInput) -> UserPayload:
        context = info.context
        app_id = scopes.require_app(context.principal)
        patch = vouched_patch(info, input.to_domain(), ("input",))

        async def work() -> dict[str, Any]:
            document, _created = await users.upsert_user(
                context.store, app_id, context.principal.actor, patch, box=context.box
            )
            return document

        document, errors = await collect_user_errors(work)
        return UserPayload.of(document, errors)

    @strawberry.mutation(
        description="Change a user. Omitted fields are left alone, explicit nulls remove; "
        "with expectedVersion the change applies only at that version (else VERSION_CONFLICT)."
    )
    async def update_user(
        self, info: Info, by: UserRef, patch: UserPatch, expected_version: int | None = None
    ) -> UserPayload:
        box = info.context.box
        # Decided from the credential alone, before the user is looked up.
        vouched = vouched_patch(info, patch.to_domain(), ("patch",))
        return await change_owned_user(
            info,
            by,
            lambda user: users.update_user(
                user.store, user.app_id, user.actor, user.ref, vouched, expected_version, box=box
            ),
        )

    @strawberry.mutation(description="Add tags (a set: existing ones are kept once).")
    async def add_tags(self, info: Info, by: UserRef, tags: list[str]) -> UserPayload:
        return await change_owned_user(
            info, by, lambda user: users.add_tags(user.store, user.app_id, user.actor, user.ref, tags)
        )

    @strawberry.mutation(description="Remove tags; tags the user does not have are ignored.")
    async def remove_tags(self, info: Info, by: UserRef, tags: list[str]) -> UserPayload:
        return await change_owned_user(
            info, by, lambda user: users.remove_tags(user.store, user.app_id, user.actor, user.ref, tags)
        )

    @strawberry.mutation(description="Erase a user and everything personal about it, history included.")
    async def delete_user(self, info: Info, by: UserRef) -> DeleteUserPayload:
        context = info.context
        app_id = scopes.require_app(context.principal)

        async def work() -> str:
            return await users.delete_user(context.store, app_id, by.to_domain())

        deleted, errors = await collect_user_errors(work)
        return DeleteUserPayload(
            deleted_user_id=strawberry.ID(encode_id("User", deleted)) if deleted else None,
            user_errors=errors,
        )
