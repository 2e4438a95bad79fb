"""saveInstallation and setPrimaryInstallation."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.auth.principal import Scope
from app.domain import devices
from app.domain.errors import ErrorCode
from app.graphql.access import Info
from app.graphql.inputs.installations import InstallationInput
from app.graphql.installation_access import owned_installation, require_may_save
from app.graphql.mutations.codes import ATTRIBUTE_CODES, INSTALLATION_WRITE_CODES
from app.graphql.pipeline import APP_CLIENTS, TENANT, app_id_of, mutation
from app.graphql.types.installation import Installation
from app.graphql.types.installation_payloads import InstallationPayload


@strawberry.type
class InstallationMutations:
    @mutation(
        scopes=APP_CLIENTS,
        codes=ATTRIBUTE_CODES | {ErrorCode.VERSION_CONFLICT, ErrorCode.LIMIT_EXCEEDED, ErrorCode.FORBIDDEN},
        description="Register an installation or update it (lastSeenAt too). A new installation "
        "gets an empty anonymous LEAD user; without credentials (only X-App-Id) the payload "
        "carries a sessionToken "
        "for that user. Session and user tokens may update their own installations only.",
    )
    async def save_installation(
        self,
        info: Info,
        input: Annotated[
            InstallationInput,
            strawberry.argument(description="The installation's push registration id and device data."),
        ],
    ) -> InstallationPayload:
        context = info.context
        await require_may_save(info, input.push_registration_id)
        anonymous = context.principal.scope is Scope.ANONYMOUS
        saved = await devices.save_installation(
            context.store,
            app_id_of(info),
            context.principal.actor,
            input.to_domain(),
            may_update=not anonymous,
            issue_session=anonymous,
        )
        return InstallationPayload.of(saved, [])

    @mutation(
        scopes=TENANT,
        codes=INSTALLATION_WRITE_CODES,
        description="Make an installation its user's primary device (at most one per user), or not.",
    )
    async def set_primary_installation(
        self,
        info: Info,
        push_registration_id: Annotated[
            str,
            strawberry.argument(
                description="The installation's push registration id (the device's push token or its own stable id)."
            ),
        ],
        primary: Annotated[
            bool,
            strawberry.argument(
                description="True makes it the user's primary installation (any other stops being one); false unsets."
            ),
        ],
    ) -> InstallationPayload:
        context = info.context
        installation = await owned_installation(info, push_registration_id, ("pushRegistrationId",))
        document = await devices.set_primary(context.store, installation["appId"], push_registration_id, primary)
        return InstallationPayload(installation=Installation.of(document), session_token=None, user_errors=[])
