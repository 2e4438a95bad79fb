"""The schema: every feature's Query and Mutation fields merged into one."""

from __future__ import annotations

import strawberry
from strawberry.extensions import QueryDepthLimiter
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from app.graphql.extensions import MaskUnexpectedErrors
from app.graphql.mutations.apps import AppMutations
from app.graphql.mutations.attributes import AttributeMutations
from app.graphql.mutations.bulk import BulkMutations
from app.graphql.mutations.users import UserMutations
from app.graphql.queries.attributes import AttributeQueries
from app.graphql.queries.users import UserQueries
from app.graphql.types.user import User

Query = merge_types("Query", (UserQueries, AttributeQueries))
Mutation = merge_types("Mutation", (UserMutations, AttributeMutations, BulkMutations, AppMutations))

DEFAULT_MAX_DEPTH = 8


def build_schema(max_depth: int = DEFAULT_MAX_DEPTH) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        types=[User],
        extensions=[MaskUnexpectedErrors, lambda: QueryDepthLimiter(max_depth=max_depth)],
        config=StrawberryConfig(auto_camel_case=True),
    )


# The exported SDL (schema.graphql) is printed from this instance.
schema = build_schema()
