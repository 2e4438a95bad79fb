"""Custom attributes: property operations, definitions and the strict-mode setting."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.domain import definitions, properties
from app.domain.errors import ErrorCode
from app.domain.operations import check_operation_count
from app.graphql.access import Info, owned_user_ref
from app.graphql.inputs.attributes import AttributeDefinitionInput, AttributeOp
from app.graphql.inputs.refs import UserRefArgument
from app.graphql.installation_access import owned_installation
from app.graphql.mutations.codes import ATTRIBUTE_CODES, BOUNDED_USER_WRITE_CODES, INSTALLATION_WRITE_CODES
from app.graphql.pipeline import APP, TENANT, app_id_of, mutation
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
    @mutation(
        scopes=TENANT,
        codes=BOUNDED_USER_WRITE_CODES | ATTRIBUTE_CODES,
        description="Apply property operations (set, setOnce, increment, append, remove, unset) to a user's "
        "custom attributes in one atomic update: all of them, or none when any is invalid.",
    )
    async def update_custom_attributes(
        self,
        info: Info,
        by: UserRefArgument,
        ops: Annotated[
            list[AttributeOp], strawberry.argument(description="The operations, applied in order in one atomic update.")
        ],
    ) -> UserPayload:
        context = info.context
        check_operation_count([op.to_domain() for op in ops])  # before the user is looked up
        ref = await owned_user_ref(info, by)
        document = await properties.update_user_attributes(
            context.store, app_id_of(info), context.principal.actor, ref.value, [op.to_domain() for op in ops]
        )
        return UserPayload.of(document, [])

    @mutation(
        scopes=TENANT,
        codes=ATTRIBUTE_CODES | INSTALLATION_WRITE_CODES | {ErrorCode.LIMIT_EXCEEDED},
        description="The same property operations on an installation's custom attributes, in one atomic "
        "update. App tokens reach every installation of the app, user and session tokens only their own.",
    )
    async def update_installation_custom_attributes(
        self,
        info: Info,
        push_registration_id: Annotated[
            str,
            strawberry.argument(
                description="The installation's push registration id (the device's push token or its own stable id)."
            ),
        ],
        ops: Annotated[
            list[AttributeOp], strawberry.argument(description="The operations, applied in order in one atomic update.")
        ],
    ) -> InstallationPayload:
        context = info.context
        check_operation_count([op.to_domain() for op in ops])  # before the installation is looked up
        installation = await owned_installation(info, push_registration_id, ("pushRegistrationId",))
        document = await properties.update_installation_attributes(
            context.store,
            installation["appId"],
            context.principal.actor,
            installation["pushRegistrationId"],
            [op.to_domain() for op in ops],
            owner_id=installation["userId"],
        )
        return InstallationPayload(installation=Installation.of(document), session_token=None, user_errors=[])

    @mutation(
        scopes=APP,
        codes=ATTRIBUTE_CODES | {ErrorCode.LIMIT_EXCEEDED},
        description="Define a custom attribute's type (app scope). Redefining with the same type adds object "
        "fields; another type is TYPE_MISMATCH.",
    )
    async def define_attribute(
        self,
        info: Info,
        input: Annotated[
            AttributeDefinitionInput,
            strawberry.argument(description="The attribute's key, type and (for LIST_OF_OBJECTS) object fields."),
        ],
    ) -> AttributeDefinitionPayload:
        fields = [(item.name, item.type) for item in input.object_fields or []]
        definition = await definitions.define_attribute(
            info.context.store, app_id_of(info), input.name, input.type, fields
        )
        return AttributeDefinitionPayload(definition=AttributeDefinition.of(definition), user_errors=[])

    @mutation(
        scopes=APP,
        codes=(),
        description="Strict mode (app scope): when on, writes to custom attributes without a definition are refused.",
    )
    async def update_attribute_settings(
        self,
        info: Info,
        strict: Annotated[
            bool,
            strawberry.argument(description="True refuses writes to undefined custom attributes; false allows them."),
        ],
    ) -> AttributeSettingsPayload:
        result = await definitions.set_strict(info.context.store, app_id_of(info), strict)
        return AttributeSettingsPayload(settings=AttributeSettings(strict=result), user_errors=[])
