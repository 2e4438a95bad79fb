"""A unit of work: every write of one mutation, bulk call or import batch commits together.

The rule, with no exceptions: **a unit of work is one MongoDB transaction.** Its document
changes go to the store through the transaction's session as the work runs (so its own
later reads see them); its history events, and the idempotency mark of the request when it
carries an ``Idempotency-Key``, are staged and written last, in the same transaction. The
commit makes all of it visible at once; any failure before the commit leaves nothing.

The change events of the outbox (app/store/outbox.py) are staged the same way and written
in ``_flush``: they commit with the change because everything here does.

Every write goes through a method of ``UnitOfWork``, so ``WRITE_HOOKS`` (empty in
production) sees each write step by name; failure-injection tests fail the Nth one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError
from pymongo.operations import InsertOne, ReplaceOne, UpdateOne

from app.store import idempotency, outbox
from app.store.client import Document, Store
from app.store.transactions import in_transaction

_DUPLICATE_KEY = 11000
WRITE_HOOKS: list[Callable[[str], Awaitable[None]]] = []


class UnitOfWork:
    """The session of one transaction plus what is staged for its commit."""

    def __init__(self, store: Store, session: AsyncClientSession) -> None:
        self.store = store
        self.session = session
        self._events: list[Document] = []
        # Change events for the outbox: (user id, event, whether version/externalUserId are set).
        self._changes: list[tuple[str, Document, bool]] = []
        self._user_ids: list[str] = []
        self._at_commit: dict[Any, Callable[[], Awaitable[None]]] = {}

    def at_commit(self, key: Any, step: Callable[[], Awaitable[None]]) -> None:
        """Run ``step`` once, after the unit's own work and before its staged writes, whatever
        number of times ``key`` is named: for what depends on the unit's final state."""
        self._at_commit.setdefault(key, step)

    def record(self, event: Document) -> None:
        """Stage a history event; it is written with the commit."""
        self._events.append(event)
        self.touches(event["userId"])

    def publish(self, user_id: str, change: Document, *, stamped: bool = False) -> None:
        """Stage a change event for the outbox; it is numbered and written with the commit.
        Unless ``stamped``, it gets the user's ``version`` and ``externalUserId`` as this unit
        leaves the user (read through the transaction at commit)."""
        self._changes.append((user_id, change, stamped))

    def touches(self, user_id: str) -> None:
        """Name a user this unit changes (kept on the idempotency record)."""
        if user_id not in self._user_ids:
            self._user_ids.append(user_id)

    async def _step(self, name: str, collection: AsyncCollection[Document]) -> None:
        for hook in WRITE_HOOKS:
            await hook(f"{name} {collection.name}")

    async def insert_one(self, collection: AsyncCollection[Document], document: Document) -> None:
        await self._step("insert", collection)
        await collection.insert_one(document, session=self.session)

    async def insert_many(self, collection: AsyncCollection[Document], documents: Sequence[Document]) -> None:
        if documents:
            await self._step("insert", collection)
            await collection.insert_many(documents, session=self.session)

    async def replace_one(
        self,
        collection: AsyncCollection[Document],
        selector: Mapping[str, Any],
        document: Document,
        *,
        upsert: bool = False,
    ) -> bool:
        """Whether ``selector`` matched (a version guard that missed answers False)."""
        await self._step("replace", collection)
        result = await collection.replace_one(selector, document, upsert=upsert, session=self.session)
        return result.matched_count == 1

    async def update_one(self, collection: AsyncCollection[Document], selector: Mapping[str, Any], update: Any) -> bool:
        await self._step("update", collection)
        result = await collection.update_one(selector, update, session=self.session)
        return result.matched_count == 1

    async def update_many(self, collection: AsyncCollection[Document], selector: Mapping[str, Any], update: Any) -> int:
        await self._step("update", collection)
        result = await collection.update_many(selector, update, session=self.session)
        return result.matched_count

    async def find_one_and_update(
        self, collection: AsyncCollection[Document], selector: Mapping[str, Any], update: Any
    ) -> Document | None:
        """The document as stored after the update, or None when ``selector`` missed."""
        await self._step("update", collection)
        return await collection.find_one_and_update(
            selector, update, return_document=ReturnDocument.AFTER, session=self.session
        )

    async def delete_many(self, collection: AsyncCollection[Document], selector: Mapping[str, Any]) -> int:
        await self._step("delete", collection)
        result = await collection.delete_many(selector, session=self.session)
        return result.deleted_count

    async def update_each(
        self, collection: AsyncCollection[Document], selectors: Sequence[Mapping[str, Any]], update: Any
    ) -> int:
        """``update`` applied to each selector's document, in one command of point updates (an
        ``$in`` of ids makes the embedded store match it again for every document)."""
        if not selectors:
            return 0
        await self._step("update", collection)
        requests = [UpdateOne(dict(selector), update) for selector in selectors]
        result = await collection.bulk_write(requests, ordered=False, session=self.session)
        return result.modified_count

    async def store_many(
        self, collection: AsyncCollection[Document], writes: Sequence[tuple[Mapping[str, Any] | None, Document]]
    ) -> None:
        """One bulk write of ``(guard, document)`` pairs: a new document (guard None) is inserted;
        one with a guard replaces the document the guard matches, or is inserted when it
        matches none, so a guard that missed collides on ``_id``. Any collision raises
        DuplicateKeyError. Ordered: inside a transaction the first failing write aborts it."""
        if not writes:
            return
        operations: list[InsertOne[Document] | ReplaceOne[Document]] = [
            InsertOne(document) if guard is None else ReplaceOne(guard, document, upsert=True)
            for guard, document in writes
        ]
        await self._step("bulk", collection)
        try:
            await collection.bulk_write(operations, ordered=True, session=self.session)
        except BulkWriteError as error:
            duplicates = [item for item in error.details.get("writeErrors", []) if item.get("code") == _DUPLICATE_KEY]
            if not duplicates:
                raise
            raise DuplicateKeyError(
                duplicates[0].get("errmsg", "duplicate key"), _DUPLICATE_KEY, duplicates[0]
            ) from None

    async def _flush(self) -> None:
        for step in self._at_commit.values():
            await step()
        await self.insert_many(self.store.history, self._events)
        await self._flush_changes()
        claim = idempotency.current_claim()
        if claim is not None:
            await self._step("mark", idempotency.collection(self.store))
            await idempotency.mark_committed(self.store, claim, self._user_ids, self.session)

    async def _flush_changes(self) -> None:
        if not self._changes:
            return
        wanted = sorted({user_id for user_id, _, stamped in self._changes if not stamped})
        users: dict[str, Document] = {}
        if wanted:
            projection = {"version": 1, "externalUserId": 1}
            async for user in self.store.users.find({"_id": {"$in": wanted}}, projection, session=self.session):
                users[user["_id"]] = user
        by_app: dict[str, list[Document]] = {}
        for user_id, change, stamped in self._changes:
            if not stamped:
                user = users.get(user_id, {})
                change = {**change, "version": user.get("version"), "externalUserId": user.get("externalUserId")}
            by_app.setdefault(change["appId"], []).append(change)
        for app_id, changes in by_app.items():
            await self._step("insert", outbox.events(self.store))
            await outbox.append(self.store, app_id, changes, self.session)


async def run[T](store: Store, work: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """Run ``work`` as one unit of work. It may run more than once (the transaction is retried
    on conflicts), so it must touch the store only through the unit it is given."""

    async def transaction(session: AsyncClientSession) -> T:
        unit = UnitOfWork(store, session)
        result = await work(unit)
        await unit._flush()
        return result

    return await in_transaction(store, transaction)
