"""Identities (validation, placeholders) and depersonalize; helpers shared with personalize.

Identity operations run in one transaction, so a crash or a concurrent call never leaves
a lost installation, a half-merged pair or two users holding one identifier.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime

from app.domain import clock, history, installations, sessions
from app.domain.actor import Actor
from app.domain.device_reach import devices_changed
from app.domain.errors import DomainError, ErrorCode, ErrorCollector
from app.domain.history import EventKind
from app.domain.identifiers import normalize_emails, normalize_external_user_id, normalize_phones
from app.domain.profile import Document, new_user_document
from app.domain.retry import retry_transaction
from app.domain.users import StaleUser, new_user_id
from app.store.client import Store
from app.store.errors import DuplicateKeyError
from app.store.unit_of_work import UnitOfWork

MAX_ATTEMPTS = 8


@dataclass(slots=True)
class Identity:
    external_user_id: str | None = None
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)


def validate_identity(identity: Identity, path: tuple[str, ...] = ("identity",)) -> Identity:
    errors = ErrorCollector()
    result = Identity()
    if identity.external_user_id is not None:
        # The same rule as every other path: "null" in any casing is no id, "0" is an id.
        try:
            result.external_user_id = normalize_external_user_id(identity.external_user_id, (*path, "externalUserId"))
        except DomainError as error:
            errors.add(error)
    for name, normalize in (("emails", normalize_emails), ("phones", normalize_phones)):
        try:
            setattr(result, name, normalize(getattr(identity, name), (*path, name)))
        except DomainError as error:
            errors.add(error)
    errors.raise_if_any()
    if not (result.external_user_id or result.emails or result.phones):
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            "an identity needs an externalUserId, an email or a phone",
            path,
        )
    return result


async def move_installation(unit: UnitOfWork, installation: Document, user_id: str, now: datetime) -> None:
    # A moved installation is never primary for its new user: that is the user's own choice.
    await unit.update_one(
        unit.store.installations,
        {"_id": installation["_id"], "appId": installation["appId"]},
        {"$set": {"userId": user_id, "isPrimaryDevice": False, "updatedAt": now}},
    )
    devices_changed(unit, installation["appId"], installation["userId"], user_id)


async def leave_user(unit: UnitOfWork, actor: Actor, installation: Document, user_id: str, now: datetime) -> None:
    """The installation moves to ``user_id``; the user it leaves records DEPERSONALIZED."""
    await move_installation(unit, installation, user_id, now)
    history.record(
        unit,
        installation["appId"],
        installation["userId"],
        EventKind.DEPERSONALIZED,
        actor,
        {"installationId": installation["_id"]},
    )


async def run_retrying[T](store: Store, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """Run a transaction again when a concurrent one got there first (on MongoDB a claim of
    a held registry entry aborts the transaction; a re-run then finds the winner's user)."""
    result: T = await retry_transaction(
        store,
        work,
        retry_on=(StaleUser, DuplicateKeyError),
        attempts=MAX_ATTEMPTS,
        message="the users changed too often concurrently; retry",
    )
    return result


@dataclass(slots=True)
class Depersonalized:
    installation: Document
    previous_user_id: str
    session_token: str


async def depersonalize(store: Store, app_id: str, actor: Actor, push_registration_id: str) -> Depersonalized:
    """The installation gets a fresh anonymous LEAD user (and a session token for it)."""

    async def work(unit: UnitOfWork) -> Depersonalized:
        now = clock.now()
        installation = await installations.get(store, app_id, push_registration_id, session=unit.session)
        fresh = new_user_document(app_id, new_user_id(), now)
        await unit.insert_one(store.users, fresh)
        await leave_user(unit, actor, installation, fresh["_id"], now)
        history.record(unit, app_id, fresh["_id"], EventKind.CREATED, actor, {"installationId": installation["_id"]})
        token = await sessions.issue(unit, app_id, fresh["_id"])
        moved = {**installation, "userId": fresh["_id"], "isPrimaryDevice": False, "updatedAt": now}
        return Depersonalized(moved, installation["userId"], token)

    return await run_retrying(store, work)
