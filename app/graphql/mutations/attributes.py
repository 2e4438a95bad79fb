"""Custom attributes: property operations, definitions and the strict-mode setting."""

from __future__ import annotations

from typing import Any

import strawberry

from app.auth import scopes
from app.domain import definitions, limits, properties
from app.domain.operations import operation_count_error
from app.graphql.access import Info
from app.graphql.errors import collect_user_errors, user_errors
from app.graphql.inputs.attributes import AttributeDefinitionInput, AttributeOp
from app.graphql.inputs.refs import UserRef
from app.graphql.installation_access import owned_installation
from app.graphql.mutations.owned import change_owned_user
from app.graphql.types.definitions import (
    AttributeDefinition,
    AttributeDefinitionPayload,
    AttributeSettings,
    AttributeSettingsPayload,
)
from app.graphql.types.installation import Installation
from app.graphql.types.installation_payloads import InstallationPayload
from app.graphql.types.payloads import UserPayload


@strawberry.type
class AttributeMutations:
    @strawberry.mutation(
        description="Apply property operations (set, setOnce, increment, append, remove, unset) to a user's "
        "custom attributes in one atomic update: all of them, or none when any is invalid."
    )
    async def update_custom_attributes(self, info: Info, by: UserRef, ops: list[AttributeOp]) -> UserPayload:
        if len(ops) > limits.MAX_OPERATIONS_PER_CALL:  # before the user is looked up
            return UserPayload(user=None, user_errors=user_errors(operation_count_error()))
        return await change_owned_user(
            info,
            by,
            lambda user: properties.update_user_attributes(
                user.store, user.app_id, user.actor, user.id, [op.to_domain() for op in ops]
            ),
        )

    @strawberry.mutation(
        description="The same property operations on an installation's custom attributes, in one atomic "
        "update. App tokens reach every installation of the app, user and session tokens only their own."
    )
    async def update_installation_custom_attributes(
        self, info: Info, push_registration_id: str, ops: list[AttributeOp]
    ) -> InstallationPayload:
        context = info.context
        if len(ops) > limits.MAX_OPERATIONS_PER_CALL:  # before the installation is looked up
            return InstallationPayload(
                installation=None, session_token=None, user_errors=user_errors(operation_count_error())
            )

        async def work() -> dict[str, Any]:
            installation = await owned_installation(info, push_registration_id, ("pushRegistrationId",))
            return await properties.update_installation_attributes(
                context.store,
                installation["appId"],
                context.principal.actor,
                installation["pushRegistrationId"],
                [op.to_domain() for op in ops],
                owner_id=installation["userId"],
            )

        document, errors = await collect_user_errors(work)
        return InstallationPayload(
            installation=Installation.of(document) if document else None, session_token=None, user_errors=errors
        )

    @strawberry.mutation(
        description="Define a custom attribute's type (app scope). Redefining with the same type adds object "
        "fields; another type is TYPE_MISMATCH."
    )
    async def define_attribute(self, info: Info, input: AttributeDefinitionInput) -> AttributeDefinitionPayload:
        context = info.context
        app_id = scopes.require_app(context.principal)
        fields = [(item.name, item.type) for item in input.object_fields or []]

        async def work() -> definitions.Definition:
            return await definitions.define_attribute(context.store, app_id, input.name, input.type, fields)

        definition, errors = await collect_user_errors(work)
        return AttributeDefinitionPayload(
            definition=AttributeDefinition.of(definition) if definition else None, user_errors=errors
        )

    @strawberry.mutation(
        description="Strict mode (app scope): when on, writes to custom attributes without a definition are refused."
    )
    async def update_attribute_settings(self, info: Info, strict: bool) -> AttributeSettingsPayload:
        context = info.context
        app_id = scopes.require_app(context.principal)

        result = await definitions.set_strict(context.store, app_id, strict)
        return AttributeSettingsPayload(settings=AttributeSettings(strict=result), user_errors=[])
