"""The schema: every feature's Query and Mutation fields merged into one."""

from __future__ import annotations

import strawberry
from strawberry.extensions import DisableIntrospection, QueryDepthLimiter, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from app.graphql.extensions import MaskUnexpectedErrors
from app.graphql.mutations.apps import AppMutations
from app.graphql.mutations.attributes import AttributeMutations
from app.graphql.mutations.channels import ChannelMutations
from app.graphql.mutations.identity import IdentityMutations
from app.graphql.mutations.installations import InstallationMutations
from app.graphql.mutations.preferences import PreferenceMutations
from app.graphql.mutations.users import UserMutations
from app.graphql.queries.installations import InstallationQueries
from app.graphql.queries.preferences import PreferenceQueries
from app.graphql.queries.users import UserQueries
from app.graphql.record import RecordOperation
from app.graphql.types.installation import Installation
from app.graphql.types.user import User

Query = merge_types(
    "Query",
    (
        UserQueries,
        PreferenceQueries,
        InstallationQueries,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        UserMutations,
        AttributeMutations,
        AppMutations,
        ChannelMutations,
        PreferenceMutations,
        InstallationMutations,
        IdentityMutations,
    ),
)

DEFAULT_MAX_DEPTH = 8


def build_schema(
    max_depth: int = DEFAULT_MAX_DEPTH, *, introspection: bool = True
) -> strawberry.Schema:
    extensions: list[type[SchemaExtension] | object] = [
        RecordOperation, MaskUnexpectedErrors, lambda: QueryDepthLimiter(max_depth=max_depth)
    ]
    if not introspection:
        extensions.append(DisableIntrospection)
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        types=[User, Installation],
        extensions=extensions,  # type: ignore[arg-type]
        config=StrawberryConfig(auto_camel_case=True),
    )


# The exported SDL (schema.graphql) is printed from this instance.
schema = build_schema()
