"""Queries on the app's preference categories."""

from __future__ import annotations

import strawberry

from app.auth import scopes
from app.graphql.access import Info
from app.graphql.types.preferences import PreferenceCategory


@strawberry.type
class PreferenceQueries:
    @strawberry.field(description="The app's preference categories, by name.")
    async def preference_categories(self, info: Info) -> list[PreferenceCategory]:
        context = info.context
        app_id = scopes.require_tenant(context.principal)
        found = await context.loaders.categories_by_app.load(app_id)
        return [PreferenceCategory(document=document) for document in found]
