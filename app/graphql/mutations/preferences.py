"""Mutations on preferences: a user's choices, and the app's categories (app scope)."""

from __future__ import annotations

import strawberry

from app.auth import scopes
from app.domain import categories, preferences
from app.graphql.access import Info
from app.graphql.errors import collect_user_errors
from app.graphql.inputs.preferences import PreferenceCategoryInput, PreferencesInput
from app.graphql.inputs.refs import UserRef
from app.graphql.mutations.owned import change_owned_user
from app.graphql.types.payloads import UserPayload
from app.graphql.types.preferences import (
    PreferenceCategory,
    PreferenceCategoryPayload,
    RemovePreferenceCategoryPayload,
)


@strawberry.type
class PreferenceMutations:
    @strawberry.mutation(description="Change a user's preferences. Opting out of a mandatory category is refused.")
    async def update_preferences(self, info: Info, by: UserRef, input: PreferencesInput) -> UserPayload:
        return await change_owned_user(
            info,
            by,
            lambda user: preferences.update_preferences(
                user.store, user.app_id, user.actor, user.ref, input.to_domain()
            ),
        )

    @strawberry.mutation(description="Create a preference category, or change the one with this name (app scope).")
    async def define_preference_category(self, info: Info, input: PreferenceCategoryInput) -> PreferenceCategoryPayload:
        context = info.context
        app_id = scopes.require_app(context.principal)
        document, errors = await collect_user_errors(
            lambda: categories.define_category(context.store, app_id, input.to_domain())
        )
        return PreferenceCategoryPayload(
            category=PreferenceCategory(document=document) if document else None, user_errors=errors
        )

    @strawberry.mutation(description="Remove a preference category (app scope); users' choices for it stay unused.")
    async def remove_preference_category(self, info: Info, name: str) -> RemovePreferenceCategoryPayload:
        context = info.context
        app_id = scopes.require_app(context.principal)
        removed, errors = await collect_user_errors(lambda: categories.remove_category(context.store, app_id, name))
        return RemovePreferenceCategoryPayload(removed_name=removed, user_errors=errors)
