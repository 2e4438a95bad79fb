"""The append-only list of profile events."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession

from app.domain.actor import Actor
from app.store.client import Store


class EventKind(StrEnum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    PERSONALIZED = "PERSONALIZED"
    DEPERSONALIZED = "DEPERSONALIZED"
    INSTALLATION_MOVED = "INSTALLATION_MOVED"
    MERGED = "MERGED"
    CHANNEL_ADDED = "CHANNEL_ADDED"
    CHANNEL_REMOVED = "CHANNEL_REMOVED"
    DELETED = "DELETED"


def event_document(
    app_id: str, user_id: str, kind: EventKind, actor: Actor, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        # ObjectIds grow with time: history pages by _id, newest first.
        "_id": ObjectId(),
        "appId": app_id,
        "userId": user_id,
        "kind": kind.value,
        "at": datetime.now(UTC),
        "actor": actor.to_document(),
        "details": details or {},
    }


async def record(
    store: Store,
    app_id: str,
    user_id: str,
    kind: EventKind,
    actor: Actor,
    details: dict[str, Any] | None = None,
    session: AsyncClientSession | None = None,
) -> None:
    await store.history.insert_one(
        event_document(app_id, user_id, kind, actor, details), session=session
    )


async def page(
    store: Store, app_id: str, user_id: str, first: int, after: str | None
) -> tuple[list[dict[str, Any]], bool]:
    """Events newest first; ``after`` is the id of the last event of the previous page."""
    query: dict[str, Any] = {"appId": app_id, "userId": user_id}
    if after is not None:
        query["_id"] = {"$lt": ObjectId(after)}
    events = await store.history.find(query).sort("_id", -1).limit(first + 1).to_list()
    return events[:first], len(events) > first
