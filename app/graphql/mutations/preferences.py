"""Mutations on preferences: a user's choices, and the app's categories (app scope)."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.domain import categories, preferences
from app.domain.errors import ErrorCode
from app.graphql.access import Info, owned_user_ref
from app.graphql.inputs.preferences import PreferenceCategoryInput, PreferencesInput
from app.graphql.inputs.refs import UserRefArgument
from app.graphql.mutations.codes import BOUNDED_USER_WRITE_CODES, INPUT_CODES
from app.graphql.pipeline import APP, TENANT, app_id_of, mutation
from app.graphql.types.payloads import UserPayload
from app.graphql.types.preferences import (
    PreferenceCategory,
    PreferenceCategoryPayload,
    RemovePreferenceCategoryPayload,
)


@strawberry.type
class PreferenceMutations:
    @mutation(
        scopes=TENANT,
        codes=BOUNDED_USER_WRITE_CODES,
        description="Change a user's preferences. Opting out of a mandatory category is refused.",
    )
    async def update_preferences(
        self,
        info: Info,
        by: UserRefArgument,
        input: Annotated[
            PreferencesInput, strawberry.argument(description="The preferences to change; omitted ones stay.")
        ],
    ) -> UserPayload:
        context = info.context
        ref = await owned_user_ref(info, by)
        document = await preferences.update_preferences(
            context.store, app_id_of(info), context.principal.actor, ref, input.to_domain()
        )
        return UserPayload.of(document, [])

    @mutation(
        scopes=APP,
        codes=INPUT_CODES,
        description="Create a preference category, or change the one with this name (app scope).",
    )
    async def define_preference_category(
        self,
        info: Info,
        input: Annotated[PreferenceCategoryInput, strawberry.argument(description="The category's name and settings.")],
    ) -> PreferenceCategoryPayload:
        document = await categories.define_category(info.context.store, app_id_of(info), input.to_domain())
        return PreferenceCategoryPayload(category=PreferenceCategory(document=document), user_errors=[])

    @mutation(
        scopes=APP,
        codes=(ErrorCode.NOT_FOUND,),
        description="Remove a preference category (app scope); users' choices for it stay unused.",
    )
    async def remove_preference_category(
        self, info: Info, name: Annotated[str, strawberry.argument(description="The category's name.")]
    ) -> RemovePreferenceCategoryPayload:
        removed = await categories.remove_category(info.context.store, app_id_of(info), name)
        return RemovePreferenceCategoryPayload(removed_name=removed, user_errors=[])
