"""Queries about custom attributes: definitions and settings."""

from __future__ import annotations

import strawberry

from app.domain import definitions
from app.graphql.access import Info
from app.graphql.pipeline import TENANT, app_id_of, query
from app.graphql.types.definitions import AttributeDefinition, AttributeSettings


@strawberry.type
class AttributeQueries:
    @query(scopes=TENANT, description="The app's attribute definitions, by name.")
    async def attribute_definitions(self, info: Info) -> list[AttributeDefinition]:
        context = info.context
        app_id = app_id_of(info)
        return [AttributeDefinition.of(item) for item in await definitions.list_definitions(context.store, app_id)]

    @query(scopes=TENANT, description="How the app treats custom attributes (strict mode).")
    async def attribute_settings(self, info: Info) -> AttributeSettings:
        context = info.context
        app_id = app_id_of(info)
        return AttributeSettings(strict=await definitions.is_strict(context.store, app_id))
