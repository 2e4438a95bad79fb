"""Property operations on users and installations (both keep ``attrs``/``attrMeta``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection

from app.domain import definitions, history
from app.domain.actor import Actor
from app.domain.errors import DomainError, DomainErrors, ErrorCode, not_found
from app.domain.history import EventKind
from app.domain.operations import AttributeOp, plan_operations
from app.domain.profile import Field
from app.store.client import Store

Document = dict[str, Any]
# A guard that fails only because of a concurrent change is simply tried again; the update
# itself is atomic, so this never re-applies part of a batch.
MAX_ATTEMPTS = 3


async def apply_operations(
    store: Store,
    collection: AsyncCollection[Document],
    app_id: str,
    selector: dict[str, Any],
    ops: Sequence[AttributeOp],
    what: str,
    path: Field = ("by",),
) -> Document:
    """Apply ``ops`` to the one document ``selector`` names in one atomic update; return it
    as stored afterwards. Any invalid operation means nothing is stored (DomainErrors)."""
    rules = await definitions.load_rules(store, app_id, [op.key for op in ops])
    plan = plan_operations(ops, rules, datetime.now(UTC))
    query = plan.filter({**selector, "appId": app_id})
    for _ in range(MAX_ATTEMPTS):
        updated = await collection.find_one_and_update(query, plan.pipeline(), return_document=ReturnDocument.AFTER)
        if updated is not None:
            return updated
        current = await collection.find_one({**selector, "appId": app_id})
        if current is None:
            raise not_found(what, path)
        errors = plan.diagnose(current)
        if errors:
            raise DomainErrors(errors)
    raise DomainError(ErrorCode.VERSION_CONFLICT, f"{what} changed too often concurrently; retry", ("ops",))


async def update_user_attributes(
    store: Store, app_id: str, actor: Actor, user_id: str, ops: Sequence[AttributeOp]
) -> Document:
    # A merged user is a tombstone: it must not take writes.
    selector = {"_id": user_id, "mergedInto": {"$exists": False}}
    document = await apply_operations(store, store.users, app_id, selector, ops, "the user")
    details = {"customAttributes": sorted({op.key for op in ops}), "operations": [op.kind for op in ops]}
    await history.record(store, app_id, user_id, EventKind.UPDATED, actor, details, user=document)
    return document


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
    selector = {"pushRegistrationId": push_registration_id}
    if owner_id is not None:
        selector["userId"] = owner_id
    document = await apply_operations(
        store, store.installations, app_id, selector, ops, "the installation", ("pushRegistrationId",)
    )
    details = {
        "installation": document["pushRegistrationId"],
        "customAttributes": sorted({op.key for op in ops}),
        "operations": [op.kind for op in ops],
    }
    await history.record(store, app_id, document["userId"], EventKind.UPDATED, actor, details)
    return document
