"""personalize: attaching an installation to the person an identity names.

It runs as one unit of work (one transaction), so a crash or a concurrent call never leaves a lost
installation, a half-merged pair or two users holding one identifier.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.crypto import SecretBox
from app.domain import clock, definitions, device_channels, history, installations, sessions
from app.domain.actor import Actor
from app.domain.claims import Claims
from app.domain.email_identifier import email_identifier
from app.domain.errors import DomainError, ErrorCode
from app.domain.history import EventKind
from app.domain.identity import Identity, leave_user, run_retrying, validate_identity
from app.domain.merge import MergeStrategy, absorb
from app.domain.profile import (
    DerivedEmail,
    Document,
    ProfileType,
    UserPatch,
    ValidPatch,
    add_derived_email,
    apply_patch,
    drop_verified_contact,
    new_user_document,
    validate_patch,
)
from app.domain.users import (
    TRUSTED,
    StaleUser,
    check_identifier_conflicts,
    insert_user,
    new_user_id,
    replace_if_unchanged,
)
from app.store import registry
from app.store import users as users_store
from app.store.client import Session, Store
from app.store.unit_of_work import UnitOfWork


async def _holders(store: Store, app_id: str, identity: Identity, session: Session) -> list[Document]:
    """The users holding any identifier of the identity: one registry read, one user read."""
    named = registry.identifiers_of(
        {
            "appId": app_id,
            "externalUserId": identity.external_user_id,
            "emails": identity.emails,
            "phones": identity.phones,
        }
    )
    user_ids = sorted(set((await registry.holders(store, named, session)).values()))
    if not user_ids:
        return []
    return list((await users_store.find_by_ids(store, app_id, user_ids, session)).values())


def _is_personalized(user: Document) -> bool:
    return bool(user.get("externalUserId")) or user.get("type") == ProfileType.CUSTOMER.value


def _with_identity(
    user: Document,
    identity: Identity,
    patch: ValidPatch | None,
    keep_as_lead: bool,
    now: datetime,
    derived: DerivedEmail | None = None,
) -> Document:
    result = dict(user)
    if identity.external_user_id and not user.get("externalUserId"):
        result["externalUserId"] = identity.external_user_id
    for name in ("emails", "phones"):
        values = list(user.get(name, []))
        values.extend(value for value in getattr(identity, name) if value not in values)
        result[name] = values
    if patch is not None:
        result = apply_patch(result, patch, ("attributes",), now)
    add_derived_email(result, derived)
    drop_verified_contact(result)  # contact data the identity vouches for is now an identifier
    if not keep_as_lead:
        result["type"] = ProfileType.CUSTOMER.value
    result["updatedAt"] = now
    return result


async def _derived_email(
    store: Store, app_id: str, claims: Claims, identity: Identity, patch: ValidPatch | None
) -> DerivedEmail | None:
    """The email the identity's externalUserId (else the attributes' one) also is, unless the
    identity names it itself. It is added, never used to find the person."""
    path = ("identity",) if identity.external_user_id else ("attributes",)
    external = identity.external_user_id or (patch.external_user_id if patch is not None else None)
    email = await email_identifier(store, app_id, claims, external)
    if email is None or email in identity.emails:
        return None
    return DerivedEmail(email, (*path, "externalUserId"))


@dataclass(slots=True)
class Personalized:
    user: Document
    installation: Document


async def personalize(
    store: Store,
    app_id: str,
    actor: Actor,
    push_registration_id: str,
    identity: Identity,
    attributes: UserPatch | None = None,
    *,
    force_depersonalize: bool = False,
    keep_as_lead: bool = False,
    box: SecretBox,
    claims: Claims = TRUSTED,
) -> Personalized:
    wanted = validate_identity(identity)
    patch = validate_patch(attributes, ("attributes",), box) if attributes is not None else None
    if patch is not None:
        await definitions.enforce(store, app_id, patch)
    derived = await _derived_email(store, app_id, claims, wanted, patch)

    async def work(unit: UnitOfWork) -> Personalized:
        session = unit.session
        now = clock.now()
        installation = await installations.get(store, app_id, push_registration_id, session=session)
        current = await users_store.find_by_id(store, app_id, installation["userId"], session)
        assert current is not None  # an installation always belongs to a user
        holders = await _holders(store, app_id, wanted, session)
        if len({holder["_id"] for holder in holders}) > 1:
            raise DomainError(
                ErrorCode.CONFLICTING_IDENTITIES,
                "the identity's identifiers belong to different users",
                ("identity",),
            )
        match = holders[0] if holders else None
        if (
            match is not None
            and wanted.external_user_id
            and match.get("externalUserId") not in (None, wanted.external_user_id)
        ):
            raise DomainError(
                ErrorCode.CONFLICTING_IDENTITIES,
                "an identifier of the identity belongs to a user with another externalUserId",
                ("identity",),
            )
        same_person = match is not None and match["_id"] == current["_id"]
        moved_from: str | None = None
        if same_person or (match is None and not _is_personalized(current)):
            target = current  # the identity is written onto the installation's user
        elif not _is_personalized(current):
            # A known person on a device used anonymously: the lead's data comes along.
            assert match is not None
            target = await absorb(
                unit, actor, match, current, MergeStrategy.PREFER_TARGET, now, ("pushRegistrationId",)
            )
            moved_from = current["_id"]
        elif not force_depersonalize:
            raise DomainError(
                ErrorCode.ALREADY_PERSONALIZED,
                "the installation is personalized with another identity; pass forceDepersonalize to move it",
                ("pushRegistrationId",),
            )
        else:
            # Only this installation leaves; the previous user keeps its data and other devices.
            if match is None:
                match = new_user_document(app_id, new_user_id(), now)
                await insert_user(unit, match)
                history.record(unit, app_id, match["_id"], EventKind.CREATED, actor, None, user=match)
            target = match
            await installations.check_room(store, app_id, target["_id"], 1, ("pushRegistrationId",), session)
            await leave_user(unit, actor, installation, target["_id"], now)
            moved_from = current["_id"]
        updated = _with_identity(target, wanted, patch, keep_as_lead, now, derived)
        updated, _ = await device_channels.adopt(unit, target, updated, now)  # attributes' push channels
        await check_identifier_conflicts(store, app_id, target["_id"], updated, ("identity",), session, target, derived)
        # A held registry entry here means a concurrent call stored the identity first:
        # it propagates (DuplicateKeyError) so that the whole transaction runs again.
        if not await replace_if_unchanged(unit, target, updated):
            raise StaleUser(target["_id"])
        if updated.get("externalUserId"):
            await sessions.revoke_for_user(unit, app_id, target["_id"])
        if moved_from is not None:
            history.record(
                unit,
                app_id,
                target["_id"],
                EventKind.INSTALLATION_MOVED,
                actor,
                {"installationId": installation["_id"], "fromUserId": moved_from},
                user=updated,
            )
        history.record(
            unit,
            app_id,
            target["_id"],
            EventKind.PERSONALIZED,
            actor,
            {"installationId": installation["_id"], "keepAsLead": keep_as_lead},
            user=updated,
        )
        moved = await installations.get(store, app_id, push_registration_id, session=session)
        return Personalized(updated, moved)

    return await run_retrying(store, work)
