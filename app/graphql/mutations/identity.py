"""personalize, depersonalize and mergeUsers."""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.auth.principal import Scope
from app.domain import identity as identity_ops
from app.domain import limits, merge
from app.domain import personalize as personalize_ops
from app.domain.errors import ErrorCode
from app.graphql.access import Info
from app.graphql.inputs.installations import UserIdentityInput
from app.graphql.inputs.refs import UserRef
from app.graphql.inputs.users import UserPatch
from app.graphql.installation_access import owned_installation, require_may_personalize
from app.graphql.mutations.codes import IDENTIFIER_WRITE_CODES, INSTALLATION_WRITE_CODES, PROFILE_WRITE_CODES
from app.graphql.pipeline import APP, app_id_of, mutation, vouched_identity, vouched_patch
from app.graphql.types.installation import Installation
from app.graphql.types.installation_payloads import InstallationPayload, PersonalizePayload
from app.graphql.types.payloads import UserPayload
from app.graphql.types.user import User

APP_OR_USER = frozenset({Scope.APP, Scope.USER})


@strawberry.type
class IdentityMutations:
    @mutation(
        scopes=APP_OR_USER,
        codes=PROFILE_WRITE_CODES | {ErrorCode.NOT_FOUND, ErrorCode.ALREADY_PERSONALIZED},
        forbidden="only app and user tokens may personalize",
        description="Attach an installation to the person the identity names. A known person "
        "receives the installation and what its anonymous lead profile held; otherwise the "
        "identity is written onto the installation's user. LEAD becomes CUSTOMER unless "
        "keepAsLead. `attributes` replace existing values. "
        "An installation personalized with another identity fails (ALREADY_PERSONALIZED) unless "
        "forceDepersonalize. User tokens may personalize only with their own externalUserId, and "
        "with the emails and phones they carry as signed claims. A user holds at most "
        f"{limits.MAX_INSTALLATIONS_PER_USER} installations: one more is LIMIT_EXCEEDED (depersonalize "
        "those no longer in use).",
    )
    async def personalize(
        self,
        info: Info,
        push_registration_id: Annotated[
            str,
            strawberry.argument(
                description="The installation's push registration id (the device's push token or its own stable id)."
            ),
        ],
        identity: Annotated[
            UserIdentityInput, strawberry.argument(description="Who the person is: externalUserId, emails and phones.")
        ],
        attributes: Annotated[
            UserPatch | None,
            strawberry.argument(
                description="Profile fields to write onto the personalized user; given values replace existing ones."
            ),
        ] = None,
        force_depersonalize: Annotated[
            bool,
            strawberry.argument(
                description="Move the installation even when it is personalized with another identity."
            ),
        ] = False,
        keep_as_lead: Annotated[
            bool, strawberry.argument(description="Keep the user a LEAD instead of making it a CUSTOMER.")
        ] = False,
    ) -> PersonalizePayload:
        context = info.context
        # Decided from the credential alone, before any look-up: no answer reveals who holds a value.
        wanted = identity.to_domain()
        vouched_identity(info, wanted.external_user_id, wanted.emails, wanted.phones)
        patch = vouched_patch(info, attributes.to_domain(), ("attributes",)) if attributes is not None else None
        if context.principal.scope is Scope.USER:
            await require_may_personalize(info, push_registration_id)
        result = await personalize_ops.personalize(
            context.store,
            app_id_of(info),
            context.principal.actor,
            push_registration_id,
            wanted,
            patch,
            force_depersonalize=force_depersonalize,
            keep_as_lead=keep_as_lead,
            box=context.box,
            claims=context.principal.claims,
        )
        context.wake_dispatcher()  # a lead absorbed: its history moves in the background
        return PersonalizePayload(
            user=User.of(result.user), installation=Installation.of(result.installation), user_errors=[]
        )

    @mutation(
        scopes=APP_OR_USER,
        codes=INSTALLATION_WRITE_CODES,
        description="Detach an installation from its user: it gets a fresh anonymous LEAD user "
        "(the payload carries a sessionToken for it). On another installation of the same "
        "user this is the remote logout.",
    )
    async def depersonalize(
        self,
        info: Info,
        push_registration_id: Annotated[
            str,
            strawberry.argument(
                description="The installation's push registration id (the device's push token or its own stable id)."
            ),
        ],
    ) -> InstallationPayload:
        context = info.context
        installation = await owned_installation(info, push_registration_id, ("pushRegistrationId",))
        result = await identity_ops.depersonalize(
            context.store, installation["appId"], context.principal.actor, push_registration_id
        )
        return InstallationPayload.of(result, [])

    @mutation(
        scopes=APP,
        codes=IDENTIFIER_WRITE_CODES | {ErrorCode.NOT_FOUND},
        description="The target absorbs the source: identifiers, channels, tags and installations "
        "are united, attribute conflicts follow the strategy, and the source becomes a tombstone "
        "whose old id resolves to the target. Users with different externalUserIds are never "
        "merged (CONFLICTING_IDENTITIES), nor into more than "
        f"{limits.MAX_INSTALLATIONS_PER_USER} installations (LIMIT_EXCEEDED). The source's history "
        "moves to the target in the background, within seconds.",
    )
    async def merge_users(
        self,
        info: Info,
        target: Annotated[UserRef, strawberry.argument(description="The user that remains.")],
        source: Annotated[
            UserRef, strawberry.argument(description="The user absorbed into the target; it becomes a tombstone.")
        ],
        strategy: Annotated[
            merge.MergeStrategy, strawberry.argument(description="Which value wins when both users have one.")
        ] = merge.MergeStrategy.PREFER_TARGET,
    ) -> UserPayload:
        context = info.context
        document = await merge.merge_users(
            context.store,
            app_id_of(info),
            context.principal.actor,
            target.to_domain(("target",)),
            source.to_domain(("source",)),
            strategy,
        )
        context.wake_dispatcher()  # the source's history moves in the background
        return UserPayload.of(document, [])
