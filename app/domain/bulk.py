"""Bulk upsert: many user records, each validated alone, written in one unordered bulk write.

The records that pass validation are one unit of work (one transaction): their users and
their CREATED/UPDATED events commit together. Round trips per batch do not grow with its
size: the definitions and the app setting (two small reads, only when records carry custom
attributes), the app's settings (one point read, only when an externalUserId is an email
address), one find for every user the batch names, one ordered bulk write, one history
insert, the commit. The bulk write goes out as one command per run of inserts or of
version-guarded replaces. New users are plain inserts rather than upserts because the embedded
server takes about twice as long for an upsert once the collection grows; on MongoDB
both cost the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from app.crypto import SecretBox
from app.domain import clock, definitions, history
from app.domain.actor import Actor
from app.domain.bulk_lookup import Batch, check_duplicates
from app.domain.claims import Claims
from app.domain.email_identifier import email_identifiers
from app.domain.errors import DomainError, DomainErrors, ErrorCode
from app.domain.history import EventKind
from app.domain.profile import (
    Document,
    Field,
    UserPatch,
    ValidPatch,
    apply_patch,
    new_user_document,
    validate_patch,
)
from app.domain.retry import retry_transaction
from app.domain.users import TRUSTED, changed_fields, lookup_ref, new_user_id
from app.store import registry
from app.store import users as users_store
from app.store.client import Store
from app.store.errors import DuplicateKeyError
from app.store.unit_of_work import UnitOfWork

MAX_RECORDS = 1_000
MAX_ATTEMPTS = 5


class BulkStatus(StrEnum):
    SUCCESS = "SUCCESS"
    PARTIAL = "PARTIAL"
    FAIL = "FAIL"


@dataclass(frozen=True, slots=True)
class BulkFailure:
    index: int
    code: ErrorCode
    message: str
    field: tuple[str, ...] = ()


@dataclass(slots=True)
class BulkResult:
    total: int
    failures: list[BulkFailure] = field(default_factory=list)
    user_ids: dict[int, str] = field(default_factory=dict)  # index → id of each stored record

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def succeeded(self) -> int:
        return self.total - self.failed

    @property
    def status(self) -> BulkStatus:
        if self.failed == 0:
            return BulkStatus.SUCCESS
        return BulkStatus.FAIL if self.succeeded == 0 else BulkStatus.PARTIAL


class _Raced(Exception):
    """A user of the batch changed or was created concurrently: run the batch's unit again."""


async def bulk_upsert(
    store: Store,
    app_id: str,
    actor: Actor,
    patches: Sequence[UserPatch],
    path: Field = ("records",),
    *,
    box: SecretBox,
    claims: Claims = TRUSTED,
) -> BulkResult:
    """Upsert each record like upsertUser; one bad record never blocks the others. The records
    that pass validation are stored with their events as one unit of work. ``claims``: what
    the caller vouches for (app/domain/email_identifier.py)."""
    if len(patches) > MAX_RECORDS:
        raise DomainError(ErrorCode.LIMIT_EXCEEDED, f"at most {MAX_RECORDS} records per call", path)
    batch = Batch(store, app_id, path)
    result = BulkResult(len(patches))
    valid: dict[int, ValidPatch] = {}
    for index, patch in enumerate(patches):
        try:
            checked = validate_patch(patch, (*path, index), box)
            if lookup_ref(checked) is None:
                raise DomainError(
                    ErrorCode.INVALID_INPUT,
                    "name the user by externalUserId, or else by an email or phone",
                    (*path, index),
                )
            valid[index] = checked
        except (DomainError, DomainErrors) as error:
            batch.fail(index, error)
    derived = await email_identifiers(store, app_id, claims, [v.external_user_id for v in valid.values()])
    for (index, checked), email in zip(valid.items(), derived, strict=True):
        checked.derive_email(email, (*path, index))
    rules = await definitions.load_rules(store, app_id, {key for v in valid.values() for key in v.attribute_inputs})
    for index in list(valid):
        try:
            definitions.conform_patch(valid[index], rules)
        except DomainErrors as error:
            batch.fail(index, error)
    check_duplicates(batch, {i: v for i, v in valid.items() if i not in batch.failed})
    remaining = {i: v for i, v in valid.items() if i not in batch.failed}
    refused = dict(batch.failed)

    async def work(unit: UnitOfWork) -> dict[int, str]:
        batch.reset(refused)
        await batch.look_up(remaining, unit.session)
        return await _write(unit, batch, actor, remaining)

    if remaining:
        result.user_ids = await retry_transaction(
            store,
            work,
            retry_on=(_Raced,),
            attempts=MAX_ATTEMPTS,
            message="users of the batch changed too often concurrently; retry",
            field=path,
        )
    result.failures = [
        BulkFailure(index, error.code, error.message, error.field) for index, error in sorted(batch.failed.items())
    ]
    return result


async def _write(unit: UnitOfWork, batch: Batch, actor: Actor, remaining: dict[int, ValidPatch]) -> dict[int, str]:
    """Build every record's document, store them in one bulk write and stage their events."""
    claimed: dict[str, int] = {}
    writes: list[tuple[dict[str, Any] | None, Document]] = []
    written: list[tuple[int, Document, bool]] = []
    released: dict[str, str] = {}  # registry key → the user giving it up
    gained: dict[str, tuple[str, registry.Named]] = {}  # registry key → (user claiming it, what it names)
    unchanged: dict[int, str] = {}
    now = clock.now()
    for index, valid in sorted(remaining.items()):
        record_path = (*batch.path, index)
        existing = batch.resolve(valid)
        if existing is not None and existing["_id"] in claimed:
            batch.fail(
                index,
                DomainError(
                    ErrorCode.INVALID_INPUT,
                    f"names the same user as record {claimed[existing['_id']]} of this batch",
                    record_path,
                ),
            )
            continue
        try:
            base = existing or new_user_document(batch.app_id, new_user_id(), now)
            document = users_store.with_channel_types(apply_patch(base, valid, record_path, now))
            conflicts = batch.conflicts(document, record_path, valid.derived_email)
            if conflicts:
                raise DomainErrors(conflicts)
        except (DomainError, DomainErrors) as error:
            batch.fail(index, error)
            continue
        claimed[document["_id"]] = index
        if existing is not None and document == existing:
            unchanged[index] = document["_id"]
            continue
        if existing is None:
            writes.append((None, document))
        else:
            # Version guard as an upsert: if the user changed meanwhile, the filter misses and
            # the insert collides on _id (a duplicate key): the unit runs again.
            document = {**document, "updatedAt": now, "version": existing["version"] + 1}
            guard = users_store.whole_document_guard(existing)
            writes.append((guard, document))
        written.append((index, document, existing is None))
        held, holding = registry.identifiers_of(existing), registry.identifiers_of(document)
        released.update((key, document["_id"]) for key in held if key not in holding)
        gained.update((key, (document["_id"], named)) for key, named in holding.items() if key not in held)
    try:
        # Releases first, so that a record may take what another record of the batch gives up.
        if released:
            await registry.release(unit, released.values(), released)
        if gained:
            await registry.claim(unit, batch.app_id, gained)
        await unit.store_many(batch.store.users, writes)
    except DuplicateKeyError:
        raise _Raced from None  # a concurrent writer: the next look-up sees its users
    for index, document, created in written:
        history.record(
            unit,
            batch.app_id,
            document["_id"],
            EventKind.CREATED if created else EventKind.UPDATED,
            actor,
            changed_fields(remaining[index]),
            user=document,
        )
    return {**unchanged, **{index: document["_id"] for index, document, _ in written}}
