"""The installations collection: look-ups and ownership moves.

Stored form::

    {_id, appId, userId, pushRegistrationId, platform, pushToken, pushProvider,
     isPushRegistrationEnabled, isPrimaryDevice, appVersion, sdkVersion, os, osVersion,
     deviceModel, language, timezone, attrs, attrMeta, createdAt, updatedAt, lastSeenAt}
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from app.store.client import Document, Session, Store
from app.store.unit_of_work import UnitOfWork


async def find(store: Store, app_id: str, push_registration_id: str, session: Session | None = None) -> Document | None:
    return await store.installations.find_one(
        {"appId": app_id, "pushRegistrationId": push_registration_id}, session=session
    )


async def find_by_id(store: Store, app_id: str, installation_id: str) -> Document | None:
    return await store.installations.find_one({"appId": app_id, "_id": installation_id})


ONE_BATCH = 100_000


async def count_held(store: Store, app_id: str, user_id: str, limit: int, session: Session | None = None) -> int:
    """How many installations the user holds, counting no further than ``limit`` (a bounded
    range of the user's index, whatever the user holds)."""
    cursor = store.installations.find({"appId": app_id, "userId": user_id}, {"_id": 1}, session=session)
    return len(await cursor.limit(limit).to_list())


async def find_by_user_ids(store: Store, app_id: str, user_ids: Sequence[str]) -> list[list[Document]]:
    """Each user's installations, in the order of ``user_ids``: one round trip, for DataLoaders."""
    grouped: dict[str, list[Document]] = {user_id: [] for user_id in user_ids}
    # One batch (up to the server's 16 MiB): the default first batch of 101 documents would
    # add getMore round trips as the page of users grows.
    cursor = (
        store.installations.find({"appId": app_id, "userId": {"$in": list(grouped)}})
        .sort("createdAt", 1)
        .batch_size(ONE_BATCH)
    )
    async for document in cursor:
        grouped[document["userId"]].append(document)
    return [grouped[user_id] for user_id in user_ids]


async def last_seen_by_user(
    store: Store, app_id: str, user_ids: Sequence[str], session: Session | None = None
) -> dict[str, list[datetime | None]]:
    """When each of these users' installations was last seen (``lastSeenAt``, None if never):
    one read of their ids and times, through the (appId, userId) index."""
    seen: dict[str, list[datetime | None]] = {user_id: [] for user_id in user_ids}
    if not seen:
        return seen  # nothing to look up: no round trip
    cursor = store.installations.find(
        {"appId": app_id, "userId": {"$in": list(seen)}}, {"userId": 1, "lastSeenAt": 1}, session=session
    ).batch_size(ONE_BATCH)
    async for installation in cursor:
        seen[installation["userId"]].append(installation.get("lastSeenAt"))
    return seen


async def find_by_push_registration_ids(
    store: Store, app_id: str, push_registration_ids: Sequence[str]
) -> list[Document | None]:
    """The installation of each pushRegistrationId (None when unknown), in order; one round trip."""
    found: dict[str, Document] = {}
    cursor = store.installations.find({"appId": app_id, "pushRegistrationId": {"$in": list(push_registration_ids)}})
    async for document in cursor:
        found[document["pushRegistrationId"]] = document
    return [found.get(registration) for registration in push_registration_ids]


# What decides whether an installation is a push destination (app/domain/push_destinations.py).
PUSH_REACH_FIELDS = ("platform", "pushToken", "isPushRegistrationEnabled")


async def push_fields_of_user(unit: UnitOfWork, app_id: str, user_id: str) -> list[Document]:
    """The user's installations as this unit leaves them: only ``PUSH_REACH_FIELDS``."""
    projection = dict.fromkeys(PUSH_REACH_FIELDS, 1)
    cursor = unit.store.installations.find({"appId": app_id, "userId": user_id}, projection, session=unit.session)
    return [installation async for installation in cursor]


async def with_token_by_user(store: Store) -> AsyncIterator[tuple[str, str, list[Document]]]:
    """(app id, user id, its installations that hold a push token), user by user: for the
    one-time back-fill of the users' push types."""
    projection = dict.fromkeys(("appId", "userId", *PUSH_REACH_FIELDS), 1)
    cursor = store.installations.find({"pushToken": {"$exists": True}}, projection).sort([("appId", 1), ("userId", 1)])
    current: tuple[str, str] | None = None
    owned: list[Document] = []
    async for installation in cursor:
        owner = (installation["appId"], installation["userId"])
        if owner != current and current is not None:
            yield (*current, owned)
            owned = []
        current = owner
        owned.append(installation)
    if current is not None:
        yield (*current, owned)


async def move_all(unit: UnitOfWork, app_id: str, from_user: str, to_user: str, now: datetime) -> int:
    """Hand every installation of ``from_user`` to ``to_user``; returns how many moved. A moved
    installation stops being primary when the receiving user already has a primary one (at
    most one each)."""
    installations = unit.store.installations
    if await installations.find_one(
        {"appId": app_id, "userId": to_user, "isPrimaryDevice": True}, {"_id": 1}, session=unit.session
    ):
        await unit.update_many(
            installations,
            {"appId": app_id, "userId": from_user, "isPrimaryDevice": True},
            {"$set": {"isPrimaryDevice": False}},
        )
    return await unit.update_many(
        installations, {"appId": app_id, "userId": from_user}, {"$set": {"userId": to_user, "updatedAt": now}}
    )
