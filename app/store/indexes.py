"""Indexes, created idempotently at start-up (create_indexes is a no-op for existing ones)."""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection

from app.store import outbox, purges, registry, users, webhooks
from app.store.client import Document, Store

# Identifier uniqueness lives in the identifier registry (app/store/registry.py), keyed by
# _id: no unique index on the users collection (each one made every write scan the
# collection on the embedded store). No query filters users by externalUserId, emails or
# phones any more, so they carry no index either.
# hasChannel matches channelTypes now (app/store/users.with_channel_types), not channels.type.
RETIRED_USER_INDEXES = ("unique_external_user_id", "unique_email", "unique_phone", "channel_type")

USER_INDEXES = [
    IndexModel([("appId", ASCENDING), ("tags", ASCENDING)], name="tags"),
    IndexModel([("appId", ASCENDING), ("createdAt", DESCENDING), ("_id", DESCENDING)], name="created"),
    IndexModel([("appId", ASCENDING), ("type", ASCENDING), ("_id", ASCENDING)], name="type"),
    IndexModel([("appId", ASCENDING), ("mergedInto", ASCENDING)], name="merged_into", sparse=True),
    # UserFilter.hasChannel (multikey over the list of channel types), then _id for the keyset page.
    IndexModel([("appId", ASCENDING), ("channelTypes", ASCENDING), ("_id", ASCENDING)], name="channel_types"),
    # users(first, after) pages in _id order within an app (keyset: _id > cursor).
    IndexModel([("appId", ASCENDING), ("_id", ASCENDING)], name="app_order"),
    # Custom attributes are filtered through one compound wildcard index over attrs.<key>
    # rather than the attribute pattern (attrs as [{k, v}] under one {k, v} index): keys
    # stay plain field paths, so a filter is {"attrs.ltv": {"$gt": ...}} and reads and
    # writes keep the document shape; each key gets its own index keys, so a range on one
    # attribute scans only that attribute's entries. The appId prefix keeps one app's
    # filters off other apps' entries (compound wildcard: MongoDB 7.0+; the compose file
    # runs 8.0). The attribute pattern would be the choice on MongoDB < 7.0, or if apps
    # used so many distinct keys that per-path index metadata grew too large.
    IndexModel([("appId", ASCENDING), ("attrs.$**", ASCENDING)], name="attrs_wildcard"),
]

# pushRegistrationId is unique per app through the registry too (registry.claim_installation);
# this plain index serves the look-up by it.
RETIRED_INSTALLATION_INDEXES = ("unique_push_registration_id",)

INSTALLATION_INDEXES = [
    IndexModel([("appId", ASCENDING), ("pushRegistrationId", ASCENDING)], name="push_registration_id"),
    IndexModel([("appId", ASCENDING), ("userId", ASCENDING)], name="user"),
    # At most one primary installation per user, enforced by the store itself: a partial
    # index, so only primary installations are checked on a write, and one led by the shard
    # key (app, user) that a sharded MongoDB can enforce. The flag is
    # part of the key so the pattern differs from "user" above (mongoeco refuses two indexes
    # with one key pattern even when their partial filters differ; MongoDB allows it).
    IndexModel(
        [("appId", ASCENDING), ("userId", ASCENDING), ("isPrimaryDevice", ASCENDING)],
        name="unique_primary_per_user",
        unique=True,
        partialFilterExpression={"isPrimaryDevice": True},
    ),
]


# Erasing a user drops its entries by user (the one registry query not by _id).
REGISTRY_INDEXES = [IndexModel([("appId", ASCENDING), ("userId", ASCENDING)], name="user")]


async def _drop_retired(collection: AsyncCollection[Document], names: tuple[str, ...]) -> None:
    existing = await collection.index_information()
    for name in names:
        if name in existing:
            await collection.drop_index(name)


async def ensure_indexes(store: Store) -> None:
    """Create the indexes, drop retired ones, and back-fill the identifier registry (each
    step a no-op once done)."""
    await store.users.create_indexes(USER_INDEXES)
    await registry.collection(store).create_indexes(REGISTRY_INDEXES)
    await registry.backfill(store)
    await users.backfill_channel_types(store)
    await _drop_retired(store.users, RETIRED_USER_INDEXES)
    # The registry takes over from the unique index before it goes (a key pattern has one index).
    await registry.backfill_installations(store)
    await _drop_retired(store.installations, RETIRED_INSTALLATION_INDEXES)
    await store.installations.create_indexes(INSTALLATION_INDEXES)
    await store.app_keys.create_indexes([IndexModel([("appId", ASCENDING)], name="app")])
    await store.history.create_indexes(
        [IndexModel([("appId", ASCENDING), ("userId", ASCENDING), ("_id", DESCENDING)], name="user")]
    )
    await store.sessions.create_indexes([IndexModel([("appId", ASCENDING), ("userId", ASCENDING)], name="user")])
    await store.attribute_definitions.create_indexes(
        [IndexModel([("appId", ASCENDING), ("name", ASCENDING)], name="unique_name", unique=True)]
    )
    # _id is "<appId>:<name>", so a category is unique per app without a second unique index.
    await store.preference_categories.create_indexes([IndexModel([("appId", ASCENDING)], name="app")])
    # A merge repoints the history moves still due to its source (app/store/purges.py).
    await purges.collection(store).create_indexes([IndexModel([("to", ASCENDING)], name="move_to", sparse=True)])
    await _drop_retired(outbox.events(store), outbox.RETIRED_INDEXES)
    await _drop_retired(webhooks.deliveries(store), webhooks.RETIRED_DELIVERY_INDEXES)
    await webhooks.ensure_indexes(store)
