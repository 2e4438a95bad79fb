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
from app.store.client import Collection, Session, Store
from app.store.unit_of_work import UnitOfWork

Document = dict[str, Any]
# A guard that fails only because of a concurrent change is simply tried again; the update
# itself is atomic, so this never re-applies part of a batch.
MAX_ATTEMPTS = 3


class _GuardRaced(Exception):
    """The guard missed, yet the document read in the same unit passes it: run the unit again."""


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
    document_id: Any = None,
) -> Document:
    """Apply ``planned`` to the one document ``selector`` names in one atomic update inside
    ``unit``; return it as stored afterwards. Any invalid operation means nothing is stored.

    ``document_id``: the ``_id`` of that document as read before the unit began; the update
    is addressed by it as well (the selector and the guards still decide)."""
    scoped = {**selector, "appId": app_id}
    if document_id is None and _addressed_by_lookup(unit.store, scoped):
        document_id = await _id_of(collection, scoped, what, path, unit.session)
    target = scoped if document_id is None else {**scoped, "_id": document_id}
    updated = await unit.find_one_and_update(collection, planned.filter(target), planned.pipeline())
    if updated is not None:
        return updated
    current = await collection.find_one(scoped, session=unit.session)
    if current is None:
        raise not_found(what, path)
    errors = planned.diagnose(current)
    if errors:
        raise DomainErrors(errors)
    raise _GuardRaced


def _addressed_by_lookup(store: Store, selector: dict[str, Any]) -> bool:
    """Whether the update's ``_id`` is looked up first: on the embedded store, a guarded
    update is served by one point read only when its filter names an ``_id``
    (app/store/embedded_engine.py); any other guarded filter reads the whole collection."""
    return store.embedded_workarounds and "_id" not in selector


async def _id_of(
    collection: Collection, selector: dict[str, Any], what: str, path: Field, session: Session | None = None
) -> Any:
    """The ``_id`` of the document ``selector`` names (NOT_FOUND when none)."""
    found = await collection.find_one(selector, {"_id": 1}, session=session)
    if found is None:
        raise not_found(what, path)
    return found["_id"]


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

    On the embedded store a document named by anything but its ``_id`` (an installation by
    its push registration id) has its ``_id`` looked up ahead of the unit, which holds every
    other session back there, on every attempt but the last; the last looks it up inside."""
    ahead: Any = None

    async def look_up_ahead(attempt: int) -> None:
        nonlocal ahead
        ahead = None
        if _addressed_by_lookup(store, selector) and attempt < MAX_ATTEMPTS - 1:
            ahead = await _id_of(collection, {**selector, "appId": app_id}, what, path)

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
        before_each=look_up_ahead,
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
