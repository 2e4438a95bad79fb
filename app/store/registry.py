"""The identifier registry: who holds each identifier of an app, keyed by ``_id``.

An entry's ``_id`` is ``"<appId>|<kind>|<value>"`` (kind: externalUserId, email, phone;
the value as normalised) and it names the ``userId`` holding it. Uniqueness is the ``_id``
itself: claiming a held identifier is an insert of an existing ``_id``, a duplicate key on
every engine and on a sharded MongoDB alike, where unique secondary indexes on the users
collection would cost a scan per write on the embedded store and cannot be enforced across
shards. Entries are claimed and released in the unit of work that writes the user, so the
registry and the users commit together. Unverified contact data is never registered.

Installations are registered the same way, by pushRegistrationId (``"<appId>|
pushRegistrationId|<value>"`` → ``installationId``): claimed when an installation is created
and released when it is erased with its user. An entry names no user, so moving an
installation to another user (personalize, depersonalize, merge) leaves it as it is.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Sequence
from typing import Any, Literal

from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError
from pymongo.results import BulkWriteResult

from app.store.client import Document, Session, Store
from app.store.unit_of_work import UnitOfWork

Kind = Literal["externalUserId", "email", "phone"]
# The user document's field for each kind (what USER_MERGE_INTERRUPTED names).
FIELDS: dict[Kind, str] = {"externalUserId": "externalUserId", "email": "emails", "phone": "phones"}
Named = tuple[str, int | None, str]  # (user field, position in its list or None, value)
_KINDS = {field: kind for kind, field in FIELDS.items()}
_DUPLICATE_KEY = 11000
# The embedded server (SQLite engine) refuses an $in of more than about 450 values.
CHUNK = 400
# Up to this many keys are read (or released) one point read each rather than by one $in.
POINT_READS = 8
# Marks a finished back-fill; no identifier key looks like it (keys hold two "|").
BACKFILL_MARK = "~backfilled"
_BACKFILL_BATCH = 500
INSTALLATIONS_BACKFILL_MARK = "~backfilled-installations"
INSTALLATION_KIND = "pushRegistrationId"

log = logging.getLogger(__name__)


def collection(store: Store) -> AsyncCollection[Document]:
    return store.db["identifier_registry"]


def key(app_id: str, kind: Kind, value: str) -> str:
    return f"{app_id}|{kind}|{value}"


def installation_key(app_id: str, push_registration_id: str) -> str:
    return f"{app_id}|{INSTALLATION_KIND}|{push_registration_id}"


def installation_entry(app_id: str, push_registration_id: str, installation_id: str) -> Document:
    """The entry that registers an installation under its pushRegistrationId."""
    return {"_id": installation_key(app_id, push_registration_id), "appId": app_id, "installationId": installation_id}


def identifiers_of(document: Document | None) -> dict[str, Named]:
    """Registry key → (user field, position in its list or None, value) of each identifier
    a user document holds (a tombstone holds none)."""
    if document is None:
        return {}
    app_id: str = document["appId"]
    found: dict[str, Named] = {}
    external = document.get("externalUserId")
    if isinstance(external, str) and external:
        found[key(app_id, "externalUserId", external)] = ("externalUserId", None, external)
    for field in ("emails", "phones"):
        for position, value in enumerate(document.get(field) or []):
            found[key(app_id, _KINDS[field], value)] = (field, position, value)
    return found


async def holder(store: Store, app_id: str, kind: Kind, value: str, session: Session | None = None) -> str | None:
    """The id of the user holding the identifier, or None: one point read."""
    entry = await collection(store).find_one({"_id": key(app_id, kind, value)}, {"userId": 1}, session=session)
    return None if entry is None else str(entry["userId"])


async def holders(
    store: Store, keys: Iterable[str], session: Session | None = None, *, batched: bool = False
) -> dict[str, str]:
    """Registry key → holder's user id for the keys that are held. A few keys are read one
    point read each: the embedded store serves ``find_one`` by ``_id`` from its primary key
    but an ``$in`` on ``_id`` by a scan of the collection (MongoDB serves both from the _id
    index). More keys, or a ``batched`` call (a bulk batch), go as one ``$in`` per CHUNK:
    one scan for many keys."""
    wanted = sorted(set(keys))
    found: dict[str, str] = {}
    if len(wanted) <= POINT_READS and not batched:
        for registry_key in wanted:
            entry = await collection(store).find_one({"_id": registry_key}, {"userId": 1}, session=session)
            if entry is not None:
                found[registry_key] = entry["userId"]
        return found
    for start in range(0, len(wanted), CHUNK):
        query = {"_id": {"$in": wanted[start : start + CHUNK]}}
        async for entry in collection(store).find(query, {"userId": 1}, session=session):
            found[entry["_id"]] = entry["userId"]
    return found


def _taken(error: BulkWriteError, entries: Sequence[Document], named: dict[str, Named]) -> None:
    """Raise the first duplicate as a DuplicateKeyError whose ``keyValue`` names the user
    field and value, as a unique index on the users collection would have."""
    duplicates = [item for item in error.details.get("writeErrors", []) if item.get("code") == _DUPLICATE_KEY]
    if not duplicates:
        raise error
    index = duplicates[0].get("index")
    details: dict[str, Any] = {"registryKey": None, "keyValue": {}}
    if isinstance(index, int) and 0 <= index < len(entries):
        registry_key = entries[index]["_id"]
        field, _, value = named[registry_key]
        details = {"registryKey": registry_key, "keyValue": {field: value}}
    raise DuplicateKeyError(duplicates[0].get("errmsg", "identifier already held"), _DUPLICATE_KEY, details) from None


async def claim(unit: UnitOfWork, app_id: str, wanted: dict[str, tuple[str, Named]]) -> None:
    """Register each key (→ (user id, what it names)) in one ordered insert per CHUNK; a held
    one raises DuplicateKeyError (``keyValue``: {user field: value})."""
    entries = [
        {"_id": registry_key, "appId": app_id, "userId": user_id} for registry_key, (user_id, _) in wanted.items()
    ]
    named = {registry_key: what for registry_key, (_, what) in wanted.items()}
    for start in range(0, len(entries), CHUNK):
        chunk = entries[start : start + CHUNK]
        try:
            await unit.insert_many(collection(unit.store), chunk)
        except BulkWriteError as error:
            _taken(error, chunk, named)


async def release(unit: UnitOfWork, user_ids: Iterable[str], keys: Iterable[str]) -> None:
    """Drop the entries of ``keys`` held by ``user_ids`` (an entry of another user stays);
    point deletes for a few keys, as for ``holders``."""
    wanted, holders_ = sorted(set(keys)), sorted(set(user_ids))
    if len(wanted) <= POINT_READS:
        for registry_key in wanted:
            await unit.delete_many(collection(unit.store), {"_id": registry_key, "userId": {"$in": holders_}})
        return
    for start in range(0, len(wanted), CHUNK):
        selector = {"_id": {"$in": wanted[start : start + CHUNK]}, "userId": {"$in": holders_}}
        await unit.delete_many(collection(unit.store), selector)


async def sync(unit: UnitOfWork, before: Document | None, after: Document | None) -> None:
    """Make the registry follow a user's change from ``before`` to ``after`` (None: absent):
    release what it gave up, then claim what it gained."""
    document = after or before
    if document is None:
        return
    app_id: str = document["appId"]
    user_id: str = document["_id"]
    held, holding = identifiers_of(before), identifiers_of(after)
    gone = [registry_key for registry_key in held if registry_key not in holding]
    if gone:
        await release(unit, [user_id], gone)
    gained = {registry_key: (user_id, named) for registry_key, named in holding.items() if registry_key not in held}
    if gained:
        await claim(unit, app_id, gained)


async def release_user(unit: UnitOfWork, app_id: str, user_id: str) -> None:
    """Drop every entry of an erased user (served by the registry's "user" index)."""
    await unit.delete_many(collection(unit.store), {"appId": app_id, "userId": user_id})


async def backfill_once(
    store: Store,
    mark: str,
    target: AsyncCollection[Document],
    writes: AsyncIterable[UpdateOne],
    counted: Callable[[BulkWriteResult], int],
) -> int:
    """Send ``writes`` to ``target`` in bulk batches, unless ``mark`` says it was done, then
    record the mark. Every one-time back-fill keeps its mark here, in the registry collection
    (no identifier key looks like one). Returns what ``counted`` adds up over the batches."""
    marks = collection(store)
    if await marks.find_one({"_id": mark}, {"_id": 1}) is not None:
        return 0
    done = 0
    batch: list[UpdateOne] = []
    async for write in writes:
        batch.append(write)
        if len(batch) >= _BACKFILL_BATCH:
            done += counted(await target.bulk_write(batch, ordered=False))
            batch = []
    if batch:
        done += counted(await target.bulk_write(batch, ordered=False))
    await marks.update_one({"_id": mark}, {"$set": {"count": done}}, upsert=True)
    if done:
        log.info("one-time back-fill %s wrote %d documents", mark, done)
    return done


async def _upserted_entries(
    documents: AsyncIterable[Document], entries_of: Callable[[Document], list[Document]]
) -> AsyncIterator[UpdateOne]:
    """An upsert of each entry (with its ``_id``) of every document; one that exists stays."""
    async for document in documents:
        for entry in entries_of(document):
            fields = {key: value for key, value in entry.items() if key != "_id"}
            yield UpdateOne({"_id": entry["_id"]}, {"$setOnInsert": fields}, upsert=True)


def _upserted(result: BulkWriteResult) -> int:
    return result.upserted_count


async def backfill(store: Store) -> int:
    """Register the identifiers of users stored before the registry existed; idempotent and
    done once (a mark records it). Returns how many entries it added."""
    projection = {"appId": 1, "externalUserId": 1, "emails": 1, "phones": 1}
    users = store.users.find({"mergedInto": {"$exists": False}}, projection)

    def entries_of(user: Document) -> list[Document]:
        return [{"_id": key, "appId": user["appId"], "userId": user["_id"]} for key in identifiers_of(user)]

    return await backfill_once(store, BACKFILL_MARK, collection(store), _upserted_entries(users, entries_of), _upserted)


async def backfill_installations(store: Store) -> int:
    """Register the pushRegistrationIds of installations stored before the registry held
    them (when a unique index on the installations enforced them); idempotent, done once."""
    installations = store.installations.find({}, {"appId": 1, "pushRegistrationId": 1})

    def entries_of(installation: Document) -> list[Document]:
        return [installation_entry(installation["appId"], installation["pushRegistrationId"], installation["_id"])]

    upserts = _upserted_entries(installations, entries_of)
    return await backfill_once(store, INSTALLATIONS_BACKFILL_MARK, collection(store), upserts, _upserted)


async def claim_installation(unit: UnitOfWork, app_id: str, push_registration_id: str, installation_id: str) -> None:
    """Register a new installation; a pushRegistrationId already registered raises
    DuplicateKeyError (a concurrent registration of the same device)."""
    await unit.insert_one(collection(unit.store), installation_entry(app_id, push_registration_id, installation_id))


async def release_installations(unit: UnitOfWork, app_id: str, user_id: str) -> None:
    """Drop the entries of a user's installations (read in the unit), before they are erased."""
    query = {"appId": app_id, "userId": user_id}
    held = unit.store.installations.find(query, {"pushRegistrationId": 1}, session=unit.session)
    keys = [installation_key(app_id, document["pushRegistrationId"]) async for document in held]
    for start in range(0, len(keys), CHUNK):
        await unit.delete_many(collection(unit.store), {"_id": {"$in": keys[start : start + CHUNK]}})
