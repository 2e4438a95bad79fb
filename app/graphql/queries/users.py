"""Queries that read users."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.auth.principal import Scope
from app.domain import users
from app.domain.errors import DomainError
from app.graphql.access import Info, owned_user
from app.graphql.ids import decode_any
from app.graphql.inputs.refs import UserRefArgument
from app.graphql.pipeline import TENANT, app_id_of, query
from app.graphql.queries.installations import installation_node
from app.graphql.types.node import Node
from app.graphql.types.user import User


@strawberry.type
class UserQueries:
    @query(scopes=TENANT, description="Any object by its global id.")
    async def node(
        self,
        info: Info,
        id: Annotated[
            strawberry.ID, strawberry.argument(description="The object's global id, as returned in its `id` field.")
        ],
    ) -> Node | None:
        decoded = decode_any(id)
        if decoded is None:
            return None
        type_name, raw_id = decoded
        if type_name == "User":
            try:
                document = await owned_user(info, users.UserRef("id", raw_id), ("id",))
            except DomainError:
                return None
            return User.of(document)
        if type_name == "Installation":
            return await installation_node(info, raw_id)
        return None

    @query(scopes=TENANT, description="The caller's own profile (user and session tokens).")
    async def me(self, info: Info) -> User | None:
        context = info.context
        principal = context.principal
        app_id = app_id_of(info)
        if principal.scope is Scope.USER and principal.external_user_id is not None:
            ref = users.UserRef("externalUserId", principal.external_user_id)
        elif principal.scope is Scope.SESSION and principal.user_id is not None:
            ref = users.UserRef("id", principal.user_id)
        else:
            return None
        document = await users.find_user(context.store, app_id, ref)
        return User.of(document) if document is not None else None

    @query(scopes=TENANT, description="One user, or null when no user matches.")
    async def user(
        self,
        info: Info,
        by: UserRefArgument,
    ) -> User | None:
        try:
            document = await owned_user(info, by.to_domain())
        except DomainError:
            return None
        return User.of(document)
