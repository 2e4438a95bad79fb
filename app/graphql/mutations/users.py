"""Mutations on user profiles: upsert, update, tags, delete."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.domain import users
from app.domain.errors import ErrorCode
from app.graphql.access import Info, owned_user_ref
from app.graphql.ids import encode_id
from app.graphql.inputs.refs import UserRefArgument
from app.graphql.inputs.users import UpsertUserInput, UserPatch
from app.graphql.mutations.codes import BOUNDED_USER_WRITE_CODES, PROFILE_WRITE_CODES, USER_REF_CODES
from app.graphql.pipeline import APP, TENANT, app_id_of, mutation, vouched_patch
from app.graphql.types.payloads import DeleteUserPayload, UserPayload


@strawberry.type
class UserMutations:
    @mutation(
        scopes=APP,
        codes=PROFILE_WRITE_CODES,
        description="Create or update a user by externalUserId, or else by email or phone.",
    )
    async def upsert_user(
        self,
        info: Info,
        input: Annotated[
            UpsertUserInput,
            strawberry.argument(
                description="The user's data; its externalUserId (else email, else phone) finds the user to update."
            ),
        ],
    ) -> UserPayload:
        context = info.context
        patch = vouched_patch(info, input.to_domain(), ("input",))
        document, _created = await users.upsert_user(
            context.store,
            app_id_of(info),
            context.principal.actor,
            patch,
            box=context.box,
            claims=context.principal.claims,
        )
        return UserPayload.of(document, [])

    @mutation(
        scopes=TENANT,
        codes=PROFILE_WRITE_CODES | {ErrorCode.NOT_FOUND},
        description="Change a user. Omitted fields are left alone, explicit nulls remove; "
        "with expectedVersion the change applies only at that version (else VERSION_CONFLICT). "
        "User tokens may set only the emails and phones they carry as claims; emails and phones "
        "from an anonymous session are kept as unverified contact data.",
    )
    async def update_user(
        self,
        info: Info,
        by: UserRefArgument,
        patch: Annotated[
            UserPatch, strawberry.argument(description="The changes: omitted fields stay, explicit nulls remove.")
        ],
        expected_version: Annotated[
            int | None,
            strawberry.argument(
                description="Apply only when the user is at this version (its `version` field); else VERSION_CONFLICT."
            ),
        ] = None,
    ) -> UserPayload:
        context = info.context
        vouched = vouched_patch(info, patch.to_domain(), ("patch",))  # before the user is looked up
        ref = await owned_user_ref(info, by)
        document = await users.update_user(
            context.store,
            app_id_of(info),
            context.principal.actor,
            ref,
            vouched,
            expected_version,
            box=context.box,
            claims=context.principal.claims,
        )
        return UserPayload.of(document, [])

    @mutation(
        scopes=TENANT,
        codes=BOUNDED_USER_WRITE_CODES,
        description="Add tags (a set: existing ones are kept once).",
    )
    async def add_tags(
        self,
        info: Info,
        by: UserRefArgument,
        tags: Annotated[list[str], strawberry.argument(description="The tags to add.")],
    ) -> UserPayload:
        context = info.context
        ref = await owned_user_ref(info, by)
        document = await users.add_tags(context.store, app_id_of(info), context.principal.actor, ref, tags)
        return UserPayload.of(document, [])

    @mutation(
        scopes=TENANT,
        codes=BOUNDED_USER_WRITE_CODES,
        description="Remove tags; tags the user does not have are ignored.",
    )
    async def remove_tags(
        self,
        info: Info,
        by: UserRefArgument,
        tags: Annotated[list[str], strawberry.argument(description="The tags to remove.")],
    ) -> UserPayload:
        context = info.context
        ref = await owned_user_ref(info, by)
        document = await users.remove_tags(context.store, app_id_of(info), context.principal.actor, ref, tags)
        return UserPayload.of(document, [])

    @mutation(
        scopes=APP,
        codes=USER_REF_CODES,
        description=(
            "Erase a user and everything personal about it, history included: nothing of it can be"
            " read once this returns; its history, and the redirects of users merged into it, are"
            " deleted from the store in the background, within seconds."
        ),
    )
    async def delete_user(
        self,
        info: Info,
        by: UserRefArgument,
    ) -> DeleteUserPayload:
        deleted = await users.delete_user(info.context.store, app_id_of(info), by.to_domain())
        info.context.wake_dispatcher()  # the user's history is purged by housekeeping
        return DeleteUserPayload(deleted_user_id=strawberry.ID(encode_id("User", deleted)), user_errors=[])
