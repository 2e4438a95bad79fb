"""The schema: every feature's Query and Mutation fields merged into one."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import DisableIntrospection
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from app.graphql.extensions import MaskUnexpectedErrors, without_input_values
from app.graphql.limits.rules import QueryLimits, hide_suggestions
from app.graphql.mutations.apps import AppMutations
from app.graphql.mutations.attributes import AttributeMutations
from app.graphql.mutations.bulk import BulkMutations
from app.graphql.mutations.channels import ChannelMutations
from app.graphql.mutations.identity import IdentityMutations
from app.graphql.mutations.installations import InstallationMutations
from app.graphql.mutations.preferences import PreferenceMutations
from app.graphql.mutations.users import UserMutations
from app.graphql.mutations.webhooks import WebhookMutations
from app.graphql.names import MemoizedNames
from app.graphql.queries.apps import AppQueries
from app.graphql.queries.attributes import AttributeQueries
from app.graphql.queries.change_events import ChangeEventQueries
from app.graphql.queries.installations import InstallationQueries
from app.graphql.queries.listing import ListingQueries
from app.graphql.queries.preferences import PreferenceQueries
from app.graphql.queries.users import UserQueries
from app.graphql.queries.webhooks import WebhookQueries
from app.graphql.record import RecordOperation
from app.graphql.scalars import SCALAR_OVERRIDES
from app.graphql.subscriptions import Subscription
from app.graphql.types.installation import Installation
from app.graphql.types.user import User

Query = merge_types(
    "Query",
    (
        UserQueries,
        ListingQueries,
        PreferenceQueries,
        InstallationQueries,
        AttributeQueries,
        AppQueries,
        ChangeEventQueries,
        WebhookQueries,
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
        BulkMutations,
        WebhookMutations,
    ),
)

# merge_types takes no description; the root types are documented like every other type.
getattr(Query, "__strawberry_definition__").description = (  # noqa: B009
    "Reads: users, installations, preferences, attribute definitions and apps, as far as the "
    "caller's credential reaches."
)
getattr(Mutation, "__strawberry_definition__").description = (  # noqa: B009
    "Writes. Expected failures come back as the payload's userErrors (each field lists the codes it can "
    "return); a caller outside the field's scope gets a FORBIDDEN error and nothing changes."
)


class Schema(strawberry.Schema):
    """The gateway's schema: with suggestions off, no error message names a schema member, and
    no parse or validation error repeats the client's input values."""

    def __init__(self, *args: Any, field_suggestions: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.field_suggestions = field_suggestions

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        if not self.field_suggestions:
            hide_suggestions(errors)
        for error in errors:
            if error.original_error is None and not error.path:
                # A parse or validation error over a websocket: the protocol handler closes with
                # its message before the masking extension's exit hook runs, and a syntax
                # error names the token it found (a string literal can be a secret).
                error.message = without_input_values(error.message)
        super().process_errors(errors, execution_context)


def build_schema(
    limits: QueryLimits | None = None, max_batch_operations: int = 0, *, introspection: bool = True
) -> Schema:
    limits = limits or QueryLimits()
    extensions: list[Any] = [RecordOperation, *limits.extensions(), MaskUnexpectedErrors]
    if not introspection:
        extensions.append(DisableIntrospection)
    return Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[User, Installation],
        extensions=extensions,
        scalar_overrides=SCALAR_OVERRIDES,  # DateTime also takes epoch milliseconds
        config=StrawberryConfig(
            auto_camel_case=True,
            name_converter=MemoizedNames(),
            disable_field_suggestions=not limits.field_suggestions,
            # Off by default: a batch would multiply every per-request limit.
            batching_config=({"max_operations": max_batch_operations} if max_batch_operations > 0 else None),
        ),
        field_suggestions=limits.field_suggestions,
    )


# The exported SDL (schema.graphql) is printed from this instance.
schema = build_schema()
