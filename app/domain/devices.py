"""Registering installations (saveInstallation) and choosing a user's primary one."""

from __future__ import annotations

from dataclasses import dataclass

from app.domain import clock, definitions, history, installation_data, installations, sessions
from app.domain.actor import Actor
from app.domain.device_reach import PUSH_REACH_FIELDS, devices_changed
from app.domain.errors import DomainError, ErrorCode
from app.domain.history import EventKind
from app.domain.installation_data import InstallationData
from app.domain.profile import Document, new_user_document
from app.domain.push_destinations import device_channel_types
from app.domain.retry import retry_transaction
from app.domain.users import new_user_id
from app.store import registry
from app.store import users as users_store
from app.store.client import Store
from app.store.errors import DuplicateKeyError
from app.store.unit_of_work import UnitOfWork

MAX_ATTEMPTS = 3
_OWNERSHIP = frozenset({"_id", "appId", "userId", "pushRegistrationId", "isPrimaryDevice", "createdAt"})


@dataclass(slots=True)
class Saved:
    installation: Document
    created: bool
    session_token: str | None = None


async def save_installation(
    store: Store,
    app_id: str,
    actor: Actor,
    data: InstallationData,
    *,
    may_update: bool,
    issue_session: bool,
) -> Saved:
    """Create the installation (with an empty anonymous LEAD user, and a session token when
    asked) or update it, as one unit of work. ``may_update`` False: an existing installation
    is refused."""
    valid = installation_data.validate(data)
    await definitions.enforce_values(store, app_id, valid.attribute_inputs, valid.attributes_set)

    async def work(unit: UnitOfWork) -> Saved:
        now = clock.now()
        existing = await installations.find(store, app_id, valid.push_registration_id, unit.session)
        if existing is not None:
            if not may_update:
                raise DomainError(
                    ErrorCode.FORBIDDEN,
                    "this installation is already registered; update it with a credential",
                    ("input", "pushRegistrationId"),
                )
            updated = installation_data.apply(existing, valid, now)
            # Only the device's own fields: who owns the installation (and whether it is the
            # primary one) may change concurrently through personalize and friends.
            changes = {key: value for key, value in updated.items() if key not in _OWNERSHIP}
            stored = await unit.find_one_and_update(
                store.installations, {"_id": existing["_id"], "appId": app_id}, {"$set": changes}
            )
            if stored is None:
                raise _Raced  # deleted meanwhile (with its user): register it anew
            unit.touches(stored["userId"])
            if any(existing.get(name) != stored.get(name) for name in PUSH_REACH_FIELDS):
                devices_changed(unit, app_id, stored["userId"])
            return Saved(stored, created=False)
        user = new_user_document(app_id, new_user_id(), now)
        installation = installation_data.new_document(app_id, user["_id"], valid, now)
        # Its one installation is all the new user's reach: known here, not read at commit.
        user["deviceChannelTypes"] = device_channel_types([installation])
        await unit.insert_one(store.users, users_store.with_channel_types(user))
        await unit.insert_one(store.installations, installation)
        await registry.claim_installation(unit, app_id, valid.push_registration_id, installation["_id"])
        history.record(
            unit, app_id, user["_id"], EventKind.CREATED, actor, {"installationId": installation["_id"]}, user=user
        )
        token = await sessions.issue(unit, app_id, user["_id"]) if issue_session else None
        return Saved(installation, created=True, session_token=token)

    # A DuplicateKeyError: registered concurrently; the next attempt updates it instead.
    return await retry_transaction(
        store,
        work,
        retry_on=(_Raced, DuplicateKeyError),
        attempts=MAX_ATTEMPTS,
        message="the installation changed too often concurrently; retry",
    )


class _Raced(Exception):
    """The installation changed between the look-up and the write."""


async def set_primary(store: Store, app_id: str, push_registration_id: str, primary: bool) -> Document:
    """At most one primary installation per user (a unique partial index backs this up)."""

    async def work(unit: UnitOfWork) -> Document:
        installation = await installations.get(store, app_id, push_registration_id, session=unit.session)
        if primary:
            await unit.update_many(
                store.installations,
                {
                    "appId": app_id,
                    "userId": installation["userId"],
                    "isPrimaryDevice": True,
                    "_id": {"$ne": installation["_id"]},
                },
                {"$set": {"isPrimaryDevice": False}},
            )
        updated = {**installation, "isPrimaryDevice": primary, "updatedAt": clock.now()}
        await unit.update_one(
            store.installations,
            {"_id": installation["_id"], "appId": app_id},
            {"$set": {"isPrimaryDevice": primary, "updatedAt": updated["updatedAt"]}},
        )
        unit.touches(installation["userId"])
        return updated

    # A DuplicateKeyError: another installation became primary concurrently.
    return await retry_transaction(
        store,
        work,
        retry_on=(DuplicateKeyError,),
        attempts=MAX_ATTEMPTS,
        message="the installations changed concurrently; retry",
    )
