"""Queries that read installations."""

from __future__ import annotations

from typing import Annotated, Any

import strawberry

from app.auth.principal import Scope
from app.domain import installations
from app.graphql.access import Info
from app.graphql.installation_access import require_owner_of
from app.graphql.pipeline import TENANT, app_id_of, query
from app.graphql.types.installation import Installation


@strawberry.type
class InstallationQueries:
    @query(scopes=TENANT, description="One installation, or null when none has this id.")
    async def installation(
        self,
        info: Info,
        push_registration_id: Annotated[
            str,
            strawberry.argument(
                description="The installation's push registration id (the device's push token or its own stable id)."
            ),
        ],
    ) -> Installation | None:
        context = info.context
        app_id = app_id_of(info)
        return await _visible(info, await installations.find(context.store, app_id, push_registration_id))


async def installation_node(info: Info, raw_id: str) -> Installation | None:
    """node(id:) for installations: null when missing, FORBIDDEN outside the caller's scope."""
    return await _visible(info, await installations.find_by_id(info.context.store, app_id_of(info), raw_id))


async def _visible(info: Info, document: dict[str, Any] | None) -> Installation | None:
    """Null when missing, FORBIDDEN when its user is outside the caller's scope."""
    if document is None:
        return None
    if info.context.principal.scope is not Scope.APP:
        await require_owner_of(info, document)
    return Installation.of(document)
