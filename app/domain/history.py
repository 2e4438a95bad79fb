"""The append-only list of profile events."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from app.domain import clock
from app.domain import events as change_events
from app.domain.actor import Actor
from app.store import history as history_store
from app.store.unit_of_work import UnitOfWork


class EventKind(StrEnum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    PERSONALIZED = "PERSONALIZED"
    DEPERSONALIZED = "DEPERSONALIZED"
    INSTALLATION_MOVED = "INSTALLATION_MOVED"
    MERGED = "MERGED"
    CHANNEL_ADDED = "CHANNEL_ADDED"
    CHANNEL_REMOVED = "CHANNEL_REMOVED"


def event_document(
    app_id: str, user_id: str, kind: EventKind, actor: Actor, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "_id": history_store.new_event_id(),
        "appId": app_id,
        "userId": user_id,
        "kind": kind.value,
        "at": clock.now(),
        "actor": actor.to_document(),
        "details": details or {},
    }


def record(
    unit: UnitOfWork,
    app_id: str,
    user_id: str,
    kind: EventKind,
    actor: Actor,
    details: dict[str, Any] | None = None,
    *,
    user: dict[str, Any] | None = None,
) -> None:
    """Stage the event in ``unit``, and its change event(s) for the outbox: they commit with
    the change they describe. ``user``: the profile as this change leaves it, when the caller
    has it (its version and externalUserId go on the change events; else they are read at
    commit)."""
    document = event_document(app_id, user_id, kind, actor, details)
    unit.record(document)
    for change in change_events.change_events(
        app_id=app_id,
        user_id=user_id,
        kind=kind.value,
        details=document["details"],
        occurred_at=document["at"],
        version=None if user is None else user.get("version"),
        external_user_id=None if user is None else user.get("externalUserId"),
    ):
        unit.publish(user_id, change, stamped=user is not None)


def record_deleted(unit: UnitOfWork, app_id: str, user_id: str, user: dict[str, Any] | None, reason: str) -> None:
    """Stage ``user.deleted``: the erased profile has no history left, only this change event
    (it names the user's last version and externalUserId, taken before the erasure, and why it
    was erased: ``events.DELETED_ON_REQUEST`` or ``events.DELETED_BY_RETENTION``)."""
    for change in change_events.change_events(
        app_id=app_id,
        user_id=user_id,
        kind="DELETED",
        details={"reason": reason},
        occurred_at=clock.now(),
        version=(user or {}).get("version"),
        external_user_id=(user or {}).get("externalUserId"),
    ):
        unit.publish(user_id, change, stamped=True)


is_event_id = history_store.is_event_id
pages = history_store.pages
