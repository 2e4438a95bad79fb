"""The append-only list of profile events."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from app.domain import clock
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
) -> None:
    """Stage the event in ``unit``: it commits with the change it describes."""
    unit.record(event_document(app_id, user_id, kind, actor, details))


is_event_id = history_store.is_event_id
pages = history_store.pages
