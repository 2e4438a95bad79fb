"""The history collection: event ids and per-user pages."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bson import ObjectId

from app.store.client import Store


def new_event_id() -> ObjectId:
    # ObjectIds grow with time: history pages by _id, newest first.
    return ObjectId()


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
