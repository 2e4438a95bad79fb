"""Bulk upsert: many user records, each validated alone, written in one unordered bulk write.

Round trips per batch do not grow with its size: the definitions and the app setting
(two small reads, only when records carry custom attributes), one find for every user
the batch names, one unordered bulk write, one history insert. The bulk write goes out as
at most two commands: ``insert`` for new users and ``update`` (version-guarded replaces)
for existing ones. New users are plain inserts rather than upserts because the embedded
server takes about twice as long for an upsert once the collection grows; on MongoDB
both cost the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pymongo import InsertOne, ReplaceOne
from pymongo.errors import BulkWriteError

from app.domain import definitions, history
from app.domain.actor import Actor
from app.domain.bulk_lookup import Batch, check_duplicates
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
from app.domain.users import changed_fields, lookup_ref, new_user_id, upsert_user
from app.store.client import Store

MAX_RECORDS = 1_000
_DUPLICATE_KEY = 11000


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


async def bulk_upsert(
    store: Store, app_id: str, actor: Actor, patches: Sequence[UserPatch], path: Field = ("records",)
) -> BulkResult:
    """Upsert each record like upsertUser; one bad record never blocks the others."""
    if len(patches) > MAX_RECORDS:
        raise DomainError(ErrorCode.LIMIT_EXCEEDED, f"at most {MAX_RECORDS} records per call", path)
    batch = Batch(store, app_id, path)
    result = BulkResult(len(patches))
    valid: dict[int, ValidPatch] = {}
    for index, patch in enumerate(patches):
        try:
            checked = validate_patch(patch, (*path, index))
            if lookup_ref(checked) is None:
                raise DomainError(
                    ErrorCode.INVALID_INPUT,
                    "name the user by externalUserId, or else by an email or phone",
                    (*path, index),
                )
            valid[index] = checked
        except (DomainError, DomainErrors) as error:
            batch.fail(index, error)
    rules = await definitions.load_rules(store, app_id, {key for v in valid.values() for key in v.attribute_inputs})
    for index in list(valid):
        try:
            definitions.conform_patch(valid[index], rules)
        except DomainErrors as error:
            batch.fail(index, error)
    check_duplicates(batch, {i: v for i, v in valid.items() if i not in batch.failed})
    remaining = {i: v for i, v in valid.items() if i not in batch.failed}
    await batch.look_up(remaining)
    writes, events, retry, written_users = await _write(batch, actor, remaining)
    for index in retry:  # lost a race with another writer: the single-record path sorts it out
        try:
            document, _ = await upsert_user(store, app_id, actor, patches[index], (*path, index))
            result.user_ids[index] = document["_id"]
        except (DomainError, DomainErrors) as error:
            batch.fail(index, error)
    if events:
        await history.record_many(store, events, written_users)
    result.user_ids.update(writes)
    result.failures = [
        BulkFailure(index, error.code, error.message, error.field) for index, error in sorted(batch.failed.items())
    ]
    return result


async def _write(
    batch: Batch, actor: Actor, remaining: dict[int, ValidPatch]
) -> tuple[dict[int, str], list[dict[str, Any]], list[int], dict[str, dict[str, Any]]]:
    """Build every record's document and store them in one unordered bulk write."""
    claimed: dict[str, int] = {}
    operations: list[InsertOne[Document] | ReplaceOne[Document]] = []
    written: list[tuple[int, Document, bool]] = []
    unchanged: dict[int, str] = {}
    now = datetime.now(UTC)
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
            document = apply_patch(base, valid, record_path, now)
            conflicts = batch.conflicts(document, record_path)
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
            operations.append(InsertOne(document))
        else:
            # Version guard as an upsert: if the user changed meanwhile, the filter misses and
            # the insert collides on _id, which comes back as a per-record write error.
            document = {**document, "updatedAt": now, "version": existing["version"] + 1}
            guard = {"_id": existing["_id"], "appId": batch.app_id, "version": existing["version"]}
            operations.append(ReplaceOne(guard, document, upsert=True))
        written.append((index, document, existing is None))
    retry: set[int] = set()
    if operations:
        try:
            await batch.store.users.bulk_write(operations, ordered=False)
        except BulkWriteError as error:
            for write_error in error.details.get("writeErrors", []):
                if write_error.get("code") != _DUPLICATE_KEY:
                    raise
                retry.add(written[write_error["index"]][0])
    events = [
        history.event_document(
            batch.app_id,
            document["_id"],
            EventKind.CREATED if created else EventKind.UPDATED,
            actor,
            changed_fields(remaining[index]),
        )
        for index, document, created in written
        if index not in retry
    ]
    ids = {index: document["_id"] for index, document, _ in written if index not in retry}
    users = {document["_id"]: document for index, document, _ in written if index not in retry}
    return {**unchanged, **ids}, events, sorted(retry), users
