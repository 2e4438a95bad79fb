"""Property operations on users and installations (both keep ``attrs``/``attrMeta``).

The operations are planned once (one pipeline update with its guards) and applied as one
unit of work with the history event.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from app.domain import clock, definitions, history
from app.domain.actor import Actor
from app.domain.errors import DomainErrors, not_found
from app.domain.history import EventKind
from app.domain.operations import AttributeOp, Plan, check_operation_count, plan_operations
from app.domain.profile import Field
from app.domain.retry import retry_transaction
from app.store.client import Collection, Store
from app.store.unit_of_work import UnitOfWork

Document = dict[str, Any]
# A guard that fails only because of a concurrent change is simply tried again; the update
# itself is atomic, so this never re-applies part of a batch.
MAX_ATTEMPTS = 3


class _GuardRaced(Exception):
    """The guard missed, yet the document read in the same unit passes it (or the document
    read ahead changed before the update): run the unit again."""


async def plan(store: Store, app_id: str, ops: Sequence[AttributeOp]) -> Plan:
    check_operation_count(ops)  # before the store is read: 1,000 keys must not cost a query
    rules = await definitions.load_rules(store, app_id, [op.key for op in ops])
    return plan_operations(ops, rules, clock.now())


async def apply_plan(
    unit: UnitOfWork,
    collection: Collection,
    app_id: str,
    selector: dict[str, Any],
    planned: Plan,
    what: str,
    path: Field = ("by",),
    read_ahead: Document | None = None,
) -> Document:
    """Apply ``planned`` to the one document ``selector`` names in one atomic update inside
    ``unit``; return it as stored afterwards. Any invalid operation means nothing is stored.
    ``read_ahead``: the document as read before the unit began (embedded store only)."""
    scoped = {**selector, "appId": app_id}
    if unit.store.embedded_workarounds:
        if read_ahead is not None:
            return await _apply_read_ahead(unit, collection, scoped, planned, read_ahead)
        return await _apply_read_first(unit, collection, scoped, planned, what, path)
    updated = await unit.find_one_and_update(collection, planned.filter(scoped), planned.pipeline())
    if updated is not None:
        return updated
    current = await collection.find_one(scoped, session=unit.session)
    if current is None:
        raise not_found(what, path)
    errors = planned.diagnose(current)
    if errors:
        raise DomainErrors(errors)
    raise _GuardRaced


async def _apply_read_first(
    unit: UnitOfWork, collection: Collection, selector: dict[str, Any], planned: Plan, what: str, path: Field
) -> Document:
    """The embedded store's way (``Store.embedded_workarounds``): its planner answers a filter
    with guards on ``attrs`` or an ``$expr`` by reading every document of the collection, but
    an update addressed by ``_id`` alone by one point read. So the document is read first, the
    guards are checked on it in Python (``Plan.diagnose`` states each guard's rule), and the
    pipeline is applied by ``_id``. The embedded store runs one transaction at a time, so
    nothing can change the document between the read and the update."""
    current = await collection.find_one(selector, session=unit.session)
    if current is None:
        raise not_found(what, path)
    errors = planned.diagnose(current)
    if errors:
        raise DomainErrors(errors)
    updated = await unit.find_one_and_update(collection, {"_id": current["_id"]}, planned.pipeline())
    if updated is None:  # pragma: no cover - the transaction holds the document
        raise _GuardRaced
    return updated


async def _apply_read_ahead(
    unit: UnitOfWork, collection: Collection, selector: dict[str, Any], planned: Plan, current: Document
) -> Document:
    """The embedded store's quicker way: the document was read before the transaction began,
    so the transaction, which holds every other session back on the embedded store, is one
    command shorter. The guards are checked on that read; the update applies only if the
    document is still that version (every write bumps it), else the unit runs again."""
    errors = planned.diagnose(current)
    if errors:
        raise DomainErrors(errors)
    unchanged = {**selector, "_id": current["_id"], "version": current.get("version")}
    updated = await unit.find_one_and_update(collection, unchanged, planned.pipeline())
    if updated is None:
        raise _GuardRaced
    return updated


async def _planned_write(
    store: Store,
    collection: Collection,
    app_id: str,
    selector: dict[str, Any],
    planned: Plan,
    what: str,
    path: Field,
    record: Callable[[UnitOfWork, Document], None],
) -> Document:
    """``planned`` applied to the document, with ``record``'s event, as one unit of work.

    On the embedded store each attempt but the last reads the document ahead of the unit
    (``_apply_read_ahead``); the last reads it inside, where no other write can come between,
    so a document written by many clients at once still takes every write."""
    ahead: Document | None = None

    async def read_ahead(attempt: int) -> None:
        nonlocal ahead
        ahead = None
        if store.embedded_workarounds and attempt < MAX_ATTEMPTS - 1:
            ahead = await collection.find_one({**selector, "appId": app_id})
            if ahead is None:
                raise not_found(what, path)

    async def work(unit: UnitOfWork) -> Document:
        document = await apply_plan(unit, collection, app_id, selector, planned, what, path, ahead)
        record(unit, document)
        return document

    document: Document = await retry_transaction(
        store,
        work,
        retry_on=(_GuardRaced,),
        attempts=MAX_ATTEMPTS,
        message=f"{what} changed too often concurrently; retry",
        field=("ops",),
        before_each=read_ahead,
    )
    return document


async def update_user_attributes(
    store: Store, app_id: str, actor: Actor, user_id: str, ops: Sequence[AttributeOp]
) -> Document:
    planned = await plan(store, app_id, ops)
    # A merged user is a tombstone: it must not take writes.
    selector = {"_id": user_id, "mergedInto": {"$exists": False}}
    details = {"customAttributes": sorted({op.key for op in ops}), "operations": [op.kind for op in ops]}

    def record(unit: UnitOfWork, document: Document) -> None:
        history.record(unit, app_id, user_id, EventKind.UPDATED, actor, details, user=document)

    return await _planned_write(store, store.users, app_id, selector, planned, "the user", ("by",), record)


async def update_installation_attributes(
    store: Store,
    app_id: str,
    actor: Actor,
    push_registration_id: str,
    ops: Sequence[AttributeOp],
    owner_id: str | None = None,
) -> Document:
    """``owner_id``: the user the caller was checked against. An installation that moved to
    another user meanwhile (personalize) is then not written: it is NOT_FOUND for this caller.

    The event goes on the installation's user, whose profile history is the only one there is;
    like a user's, it names the keys and operations, never the values."""
    planned = await plan(store, app_id, ops)
    selector = {"pushRegistrationId": push_registration_id}
    if owner_id is not None:
        selector["userId"] = owner_id

    def record(unit: UnitOfWork, document: Document) -> None:
        details = {
            "installation": document["pushRegistrationId"],
            "customAttributes": sorted({op.key for op in ops}),
            "operations": [op.kind for op in ops],
        }
        history.record(unit, app_id, document["userId"], EventKind.UPDATED, actor, details)

    what, path = "the installation", ("pushRegistrationId",)
    return await _planned_write(store, store.installations, app_id, selector, planned, what, path, record)
