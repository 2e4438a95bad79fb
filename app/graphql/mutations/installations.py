"""saveInstallation and setPrimaryInstallation."""

from __future__ import annotations

import strawberry

from app.auth import scopes
from app.auth.principal import Scope
from app.domain import devices, installations
from app.domain.devices import Saved
from app.graphql.access import Info
from app.graphql.errors import collect_user_errors
from app.graphql.inputs.installations import InstallationInput
from app.graphql.installation_access import owned_installation, require_owner_of
from app.graphql.types.installation import Installation
from app.graphql.types.installation_payloads import InstallationPayload


@strawberry.type
class InstallationMutations:
    @strawberry.mutation(
        description="Register an installation or update it (lastSeenAt too). A new installation "
        "gets an empty anonymous LEAD user; without credentials (only X-App-Id) the payload "
        "carries a sessionToken "
        "for that user. Session and user tokens may update their own installations only."
    )
    async def save_installation(self, info: Info, input: InstallationInput) -> InstallationPayload:
        context = info.context
        principal = context.principal
        if principal.app_id is None:
            raise scopes.Forbidden()
        app_id = principal.app_id
        anonymous = principal.scope is Scope.ANONYMOUS
        if principal.scope in (Scope.USER, Scope.SESSION):
            existing = await installations.find(context.store, app_id, input.push_registration_id.strip())
            if existing is None:
                raise scopes.Forbidden("register new installations with the app key or with X-App-Id only")
            await require_owner_of(info, existing)

        async def work() -> Saved:
            return await devices.save_installation(
                context.store,
                app_id,
                principal.actor,
                input.to_domain(),
                may_update=not anonymous,
                issue_session=anonymous,
            )

        saved, errors = await collect_user_errors(work)
        return InstallationPayload.of(saved, errors)

    @strawberry.mutation(description="Make an installation its user's primary device (at most one per user), or not.")
    async def set_primary_installation(
        self, info: Info, push_registration_id: str, primary: bool
    ) -> InstallationPayload:
        context = info.context

        async def work() -> dict[str, object]:
            installation = await owned_installation(info, push_registration_id, ("pushRegistrationId",))
            return await devices.set_primary(context.store, installation["appId"], push_registration_id, primary)

        document, errors = await collect_user_errors(work)
        return InstallationPayload(
            installation=Installation.of(document) if document else None,
            session_token=None,
            user_errors=errors,
        )
