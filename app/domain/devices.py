"""Registering installations (saveInstallation) and choosing a user's primary one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from app.domain import definitions, history, installation_data, installations, sessions
from app.domain.actor import Actor
from app.domain.errors import DomainError, ErrorCode
from app.domain.history import EventKind
from app.domain.installation_data import InstallationData
from app.domain.profile import Document, new_user_document
from app.domain.retry import retry_transaction
from app.domain.users import new_user_id
from app.store.client import Store
from app.store.transactions import in_transaction

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
    asked) or update it. ``may_update`` False: an existing installation is refused."""
    valid = installation_data.validate(data)
    await definitions.enforce_values(store, app_id, valid.attribute_inputs, valid.attributes_set)
    for _ in range(MAX_ATTEMPTS):
        now = datetime.now(UTC)
        existing = await installations.find(store, app_id, valid.push_registration_id)
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
            stored = await store.installations.find_one_and_update(
                {"_id": existing["_id"], "appId": app_id},
                {"$set": changes},
                return_document=ReturnDocument.AFTER,
            )
            if stored is None:
                continue  # deleted meanwhile (with its user): register it anew
            return Saved(stored, created=False)

        async def create(session: AsyncClientSession, now: datetime = now) -> Saved:
            user = new_user_document(app_id, new_user_id(), now)
            installation = installation_data.new_document(app_id, user["_id"], valid, now)
            await store.users.insert_one(user, session=session)
            await store.installations.insert_one(installation, session=session)
            await history.record(
                store,
                app_id,
                user["_id"],
                EventKind.CREATED,
                actor,
                {"installationId": installation["_id"]},
                session,
            )
            token = await sessions.issue(store, app_id, user["_id"], session) if issue_session else None
            return Saved(installation, created=True, session_token=token)

        try:
            return await in_transaction(store, create)
        except DuplicateKeyError:
            continue  # registered concurrently: update it instead
    raise DomainError(ErrorCode.VERSION_CONFLICT, "the installation changed too often concurrently; retry")


async def set_primary(store: Store, app_id: str, push_registration_id: str, primary: bool) -> Document:
    """At most one primary installation per user (a unique partial index backs this up)."""

    async def work(session: AsyncClientSession) -> Document:
        installation = await installations.get(store, app_id, push_registration_id, session=session)
        if primary:
            await store.installations.update_many(
                {
                    "appId": app_id,
                    "userId": installation["userId"],
                    "isPrimaryDevice": True,
                    "_id": {"$ne": installation["_id"]},
                },
                {"$set": {"isPrimaryDevice": False}},
                session=session,
            )
        updated = {**installation, "isPrimaryDevice": primary, "updatedAt": datetime.now(UTC)}
        await store.installations.update_one(
            {"_id": installation["_id"], "appId": app_id},
            {"$set": {"isPrimaryDevice": primary, "updatedAt": updated["updatedAt"]}},
            session=session,
        )
        return updated

    # A DuplicateKeyError: another installation became primary concurrently.
    return await retry_transaction(
        store,
        work,
        retry_on=(DuplicateKeyError,),
        attempts=MAX_ATTEMPTS,
        message="the installations changed concurrently; retry",
    )
