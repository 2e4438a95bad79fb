"""The append-only list of profile events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession

from app.domain import events as change_events
from app.domain.actor import Actor
from app.store import outbox
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
    *,
    user: dict[str, Any] | None = None,
) -> None:
    """Store the history event and its change event(s) through ``session`` (both commit with
    the change when it runs in a transaction). ``user``: the profile as this change wrote it,
    when the caller has it (else it is read through the session)."""
    document = event_document(app_id, user_id, kind, actor, details)
    await store.history.insert_one(document, session=session)
    await publish(store, app_id, user_id, kind, document["details"], document["at"], session, user)


async def record_many(store: Store, documents: Sequence[dict[str, Any]], users: Mapping[str, dict[str, Any]]) -> None:
    """Store history events of one app (from ``event_document``) and their change events;
    ``users``: the profiles as the changes wrote them, by id."""
    if not documents:
        return
    await store.history.insert_many(documents, ordered=False)
    app_id = documents[0]["appId"]
    staged = [
        change
        for document in documents
        for change in change_events.change_events(
            app_id=app_id,
            user_id=document["userId"],
            kind=document["kind"],
            details=document["details"],
            occurred_at=document["at"],
            version=users.get(document["userId"], {}).get("version"),
            external_user_id=users.get(document["userId"], {}).get("externalUserId"),
        )
    ]
    await outbox.append(store, app_id, staged)


async def publish(
    store: Store,
    app_id: str,
    user_id: str,
    kind: EventKind,
    details: dict[str, Any],
    at: datetime,
    session: AsyncClientSession | None = None,
    user: dict[str, Any] | None = None,
) -> None:
    """Write the change event(s) of a history event to the outbox, through the same session
    as the change (``user``: the profile when the caller has it, e.g. one being deleted)."""
    if user is None:
        projection = {"version": 1, "externalUserId": 1}
        user = await store.users.find_one({"_id": user_id, "appId": app_id}, projection, session=session) or {}
    staged = change_events.change_events(
        app_id=app_id,
        user_id=user_id,
        kind=kind.value,
        details=details,
        occurred_at=at,
        version=user.get("version"),
        external_user_id=user.get("externalUserId"),
    )
    await outbox.append(store, app_id, staged, session)


def is_event_id(value: str) -> bool:
    """Whether ``value`` can name an event (an ``after`` for ``pages``)."""
    return ObjectId.is_valid(value)


async def pages(
    store: Store, app_id: str, user_ids: Sequence[str], first: int, after: str | None
) -> list[tuple[list[dict[str, Any]], bool]]:
    """Each user's events newest first and whether more follow, in the order of ``user_ids``;
    ``after`` is the id of the last event of the previous page. One round trip (DataLoaders).

    One aggregate: each user's newest ``first + 1`` events through a ``$unionWith`` branch of
    its own, so every branch reads only its user's page off the (appId, userId, _id) index;
    a single find with ``userId: {$in: ...}`` would read every event of every user."""
    if not user_ids:
        return []

    def branch(user_id: str) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"appId": app_id, "userId": user_id}
        if after is not None:
            query["_id"] = {"$lt": ObjectId(after)}
        return [{"$match": query}, {"$sort": {"_id": -1}}, {"$limit": first + 1}]

    distinct = list(dict.fromkeys(user_ids))
    pipeline = branch(distinct[0]) + [
        {"$unionWith": {"coll": store.history.name, "pipeline": branch(user_id)}} for user_id in distinct[1:]
    ]
    grouped: dict[str, list[dict[str, Any]]] = {user_id: [] for user_id in distinct}
    # The whole answer in the first batch: a getMore would make the round trips grow with
    # the number of users (the default first batch is 101 documents).
    cursor = await store.history.aggregate(pipeline, batchSize=len(distinct) * (first + 1))
    async for event in cursor:
        grouped[event["userId"]].append(event)
    result = []
    for user_id in user_ids:
        # Union output keeps branch order on MongoDB, but nothing documents it: sort here.
        events = sorted(grouped[user_id], key=lambda event: event["_id"], reverse=True)
        result.append((events[:first], len(events) > first))
    return result
