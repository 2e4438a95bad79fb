"""The users collection: look-ups by id, pages, counts, channelTypes (writes go through the unit of work)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from pymongo import UpdateOne
from pymongo.errors import ExecutionTimeout

from app.store import installations, purges, registry
from app.store.client import Document, Session, Store

if TYPE_CHECKING:
    from app.store.unit_of_work import UnitOfWork

# Mark the finished back-fills of channelTypes and deviceChannelTypes (registry.backfill_once keeps them).
CHANNEL_TYPES_MARK = "~backfilled-channel-types"
DEVICE_TYPES_MARK = "~backfilled-device-channel-types"
_BACKFILL_READS = 500  # users whose stored channels the device back-fill reads at once


def channel_types(channels: Iterable[Document]) -> list[str]:
    """The types of these stored channels, each once, sorted."""
    return sorted({channel["type"] for channel in channels})


def all_channel_types(channels: Iterable[Document], device_types: Iterable[str]) -> list[str]:
    """What ``channelTypes`` holds: the stored channels' types and the user's devices' push
    types, each once, sorted."""
    return sorted({*channel_types(channels), *device_types})


def with_channel_types(document: Document) -> Document:
    """``document`` with ``channelTypes`` set from its channels and from the push types its
    installations give it (``deviceChannelTypes``, kept by app/domain/device_reach.py); every
    write of a whole user document goes through it.

    The hasChannel filter matches this top-level list of strings, through the (appId,
    channelTypes, _id) index. A path into the embedded channels (``channels.type``) is
    indexed as well on MongoDB, but the embedded store cannot compile it to SQL and decodes
    every user of the app to answer it: a page over 20,000 users took 0.8-1.1 s that way and
    5-37 ms this way."""
    if "channels" in document:  # a merge tombstone has none, and keeps only its redirect
        document["channelTypes"] = all_channel_types(document["channels"], document.get("deviceChannelTypes", ()))
    return document


def whole_document_guard(previous: Document) -> dict[str, Any]:
    """The filter a whole-document write of ``previous``'s next version goes through: the
    user unchanged since it was read, its version and its installations' push types alike
    (those change through installation writes, which leave ``version`` alone)."""
    return {
        "_id": previous["_id"],
        "appId": previous["appId"],
        "version": previous["version"],
        "deviceVersion": previous.get("deviceVersion"),  # None matches a user that never had one
    }


async def set_device_channel_types(unit: UnitOfWork, app_id: str, user_id: str, device_types: list[str]) -> None:
    """Store the push types a user's installations give it, unless they are stored already
    (a merged user keeps only its redirect). ``deviceVersion`` moves, so that a whole-document
    write based on an earlier read misses its guard and runs again."""
    projection = {"channels.type": 1, "deviceChannelTypes": 1, "mergedInto": 1}
    user = await unit.store.users.find_one({"_id": user_id, "appId": app_id}, projection, session=unit.session)
    if user is None or "mergedInto" in user or user.get("deviceChannelTypes", []) == device_types:
        return
    await unit.update_one(
        unit.store.users,
        {"_id": user_id, "appId": app_id},
        {"$set": _device_types_set(user, device_types), "$inc": {"deviceVersion": 1}},
    )


def _device_types_set(user: Document, device_types: list[str]) -> Document:
    return {
        "deviceChannelTypes": device_types,
        "channelTypes": all_channel_types(user.get("channels", []), device_types),
    }


async def backfill_channel_types(store: Store) -> int:
    """Set ``channelTypes`` on users stored before it existed; done once (a mark records it).
    A user written meanwhile already has it and is left alone. Returns how many were set."""
    missing = {"channelTypes": {"$exists": False}}

    async def settings() -> AsyncIterator[UpdateOne]:
        async for user in store.users.find(missing, {"channels.type": 1}):
            types = {"$set": {"channelTypes": channel_types(user.get("channels", []))}}
            yield UpdateOne({"_id": user["_id"], **missing}, types)

    return await registry.backfill_once(
        store, CHANNEL_TYPES_MARK, store.users, settings(), lambda result: result.modified_count
    )


async def backfill_device_channel_types(store: Store, types_of: Callable[[list[Document]], list[str]]) -> int:
    """Set ``deviceChannelTypes`` (``types_of`` the user's installations that hold a token) on
    users stored before it existed, and ``channelTypes`` with them; done once (a mark records
    it). A user written meanwhile already has it and is left alone."""

    async def settings() -> AsyncIterator[UpdateOne]:
        pending: dict[str, list[str]] = {}  # user id → its devices' push types
        async for _, user_id, owned in installations.with_token_by_user(store):
            if types := types_of(owned):
                pending[user_id] = types
            if len(pending) >= _BACKFILL_READS:
                for write in await _device_types_backfilled(store, pending):
                    yield write
                pending = {}
        for write in await _device_types_backfilled(store, pending):
            yield write

    return await registry.backfill_once(
        store, DEVICE_TYPES_MARK, store.users, settings(), lambda result: result.modified_count
    )


async def _device_types_backfilled(store: Store, pending: dict[str, list[str]]) -> list[UpdateOne]:
    """The writes for those of these users that have no ``deviceChannelTypes`` yet: one read
    for all of them, for the stored channels that ``channelTypes`` lists as well."""
    if not pending:
        return []
    missing = {"deviceChannelTypes": {"$exists": False}, "mergedInto": {"$exists": False}}
    found = store.users.find({"_id": {"$in": list(pending)}, **missing}, {"channels.type": 1})
    return [
        UpdateOne(
            {"_id": user["_id"], **missing},
            {"$set": _device_types_set(user, pending[user["_id"]]), "$inc": {"deviceVersion": 1}},
        )
        async for user in found
    ]


async def find_by_id(store: Store, app_id: str, user_id: str, session: Session | None = None) -> Document | None:
    """The user document (live or tombstone) with this id. Users are found by identifier
    through the identifier registry (app/store/registry.py), never by a query on the
    identifier fields, which carry no index."""
    return await store.users.find_one({"appId": app_id, "_id": user_id}, session=session)


async def find_by_ids(
    store: Store, app_id: str, ids: Sequence[str], session: Session | None = None
) -> dict[str, Document]:
    """The users of ``ids`` that exist, by id: one round trip."""
    query = {"appId": app_id, "_id": {"$in": sorted(set(ids))}}
    return {document["_id"]: document async for document in store.users.find(query, session=session)}


async def exists(store: Store, app_id: str, user_id: str, session: Session | None = None) -> bool:
    """Whether any document (live user or tombstone) has this id."""
    return await store.users.find_one({"appId": app_id, "_id": user_id}, {"_id": 1}, session=session) is not None


async def has_data_left(store: Store, app_id: str, user_id: str, session: Session | None = None) -> bool:
    """Whether installations, sessions or history still name the user (history whose purge is
    due is not left: its erasure has committed)."""
    for collection in (store.installations, store.sessions):
        if await collection.find_one({"appId": app_id, "userId": user_id}, {"_id": 1}, session=session):
            return True
    if await store.history.find_one({"appId": app_id, "userId": user_id}, {"_id": 1}, session=session) is None:
        return False
    return not await purges.is_scheduled(store, "history", [app_id, user_id], session)


async def page(
    store: Store,
    query: dict[str, Any],
    after_id: str | None,
    first: int,
    until_id: str | None = None,
    *,
    match_in_window: bool = False,
) -> list[Document]:
    """Up to ``first + 1`` users matching ``query`` after ``after_id`` (and up to ``until_id``,
    when given) in id order (keyset), in the first reply (batch size = limit: no getMore).

    ``match_in_window``: the users of the range are selected first and the filter's
    conditions (``$and``) matched on them in a later stage, so a store that can match them
    only document by document (the embedded store, for attributes) matches that range only.
    On MongoDB the two stages are one (consecutive ``$match`` stages are coalesced)."""
    id_range: Document = {}
    if after_id is not None:
        id_range["$gt"] = after_id
    if until_id is not None:
        id_range["$lte"] = until_id
    if match_in_window and "$and" in query:
        selected = {key: value for key, value in query.items() if key != "$and"}
        pipeline: list[Document] = [
            {"$match": {**selected, "_id": id_range} if id_range else selected},
            {"$sort": {"_id": 1}},
            {"$match": {"$and": query["$and"]}},
            {"$limit": first + 1},
        ]
        return await (await store.users.aggregate(pipeline, batchSize=first + 1)).to_list()
    page_query = {**query, "_id": id_range} if id_range else query
    return await store.users.find(page_query).sort("_id", 1).limit(first + 1).batch_size(first + 1).to_list()


async def walk_page(
    store: Store, app_id: str, after_id: str | None, limit: int, fields: Sequence[str]
) -> list[Document]:
    """Up to ``limit`` of the app's users after ``after_id`` in id order (merge tombstones
    included), with ``_id`` and ``fields`` only: one step of a background walk over an app,
    through the (appId, _id) index, as a page of ``users`` is read."""
    query: Document = {"appId": app_id}
    if after_id is not None:
        query["_id"] = {"$gt": after_id}
    projection = dict.fromkeys(fields, 1)
    return await store.users.find(query, projection).sort("_id", 1).limit(limit).batch_size(limit).to_list()


class WindowEnd(NamedTuple):
    end_id: str  # the last user of the window
    more_follow: bool  # whether any user of the app follows it


async def window_end(store: Store, app_id: str, after_id: str | None, size: int) -> WindowEnd | None:
    """The id of the ``size``-th user of the app after ``after_id`` in id order (merge
    tombstones count), and whether any user follows it; None when fewer follow. Reads ids
    only, along the ``_id`` order: a bounded range of ``size`` entries."""
    query: Document = {"appId": app_id} if after_id is None else {"appId": app_id, "_id": {"$gt": after_id}}
    found = await store.users.find(query, {"_id": 1}).sort("_id", 1).skip(size - 1).limit(2).batch_size(2).to_list()
    if not found:
        return None
    return WindowEnd(str(found[0]["_id"]), more_follow=len(found) > 1)


async def count(store: Store, query: dict[str, Any], *, limit: int, time_limit_ms: int) -> int | None:
    """Matching users, counted up to ``limit``; None when the store ran out of time.

    MongoDB's ``count`` command rather than ``count_documents`` (an aggregate): with a
    predicate (``appId`` at least, always) it is exact on MongoDB, sharded clusters included
    since 4.0, and on the embedded store it is one SQL ``COUNT`` where the aggregate decoded
    every matching user (10,000 users: 20-50 ms of store CPU instead of 700-850 ms). Never
    in a transaction, where MongoDB refuses it."""
    command = {"count": store.users.name, "query": query, "limit": limit, "maxTimeMS": time_limit_ms}
    try:
        reply = await store.db.command(command)
    except ExecutionTimeout:
        return None
    return int(reply["n"])
