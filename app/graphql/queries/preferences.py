"""Queries on the app's preference categories."""

from __future__ import annotations

import strawberry

from app.graphql.access import Info
from app.graphql.pipeline import TENANT, app_id_of, query
from app.graphql.types.preferences import PreferenceCategory


@strawberry.type
class PreferenceQueries:
    @query(scopes=TENANT, description="The app's preference categories, by name.")
    async def preference_categories(self, info: Info) -> list[PreferenceCategory]:
        context = info.context
        app_id = app_id_of(info)
        found = await context.loaders.categories_by_app.load(app_id)
        return [PreferenceCategory(document=document) for document in found]
