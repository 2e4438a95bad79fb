"""Bulk upsert: many user records, each validated alone, written in one unordered bulk write.

Round trips per batch do not grow with its size: the definitions and the app setting
(two small reads), one find for every user the batch names, one ``update`` command with
a version-guarded replace (or an insert, as an upsert) per record, one history insert.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pymongo import ReplaceOne
from pymongo.errors import BulkWriteError

from app.domain import definitions, history
from app.domain.actor import Actor
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
from app.domain.users import (
    MAX_REDIRECTS,
    _changed,
    _interrupted,
    _lookup_ref,
    new_user_id,
    upsert_user,
)
from app.store.client import Store

MAX_RECORDS = 1_000
_IDENTIFIERS = (("externalUserId", "externalUserId"), ("emails", "email"), ("phones", "phone"))
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


def _identifiers(document: Document) -> list[tuple[str, int | None, str]]:
    """(field, position in its list or None, value) of each identifier a document holds."""
    found: list[tuple[str, int | None, str]] = []
    if document.get("externalUserId"):
        found.append(("externalUserId", None, document["externalUserId"]))
    for name in ("emails", "phones"):
        found += [(name, position, value) for position, value in enumerate(document.get(name) or [])]
    return found


class _Batch:
    """The state of one call: failures by index and what each identifier resolves to."""

    def __init__(self, store: Store, app_id: str, total: int, path: Field) -> None:
        self.store, self.app_id, self.path = store, app_id, path
        self.result = BulkResult(total)
        self.failed: dict[int, DomainError] = {}
        self.holders: dict[tuple[str, str], Document] = {}  # (field, value) → stored user
        self.live: dict[str, Document] = {}  # user id → live user (tombstones resolved)

    def fail(self, index: int, error: DomainError | DomainErrors) -> None:
        errors = error.errors if isinstance(error, DomainErrors) else [error]
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        self.failed[index] = DomainError(first.code, first.message + more, first.field)

    async def look_up(self, patches: dict[int, ValidPatch]) -> None:
        """One find for every user that holds an identifier of the batch (plus merge redirects)."""
        wanted: dict[str, set[str]] = {name: set() for name, _ in _IDENTIFIERS}
        for valid in patches.values():
            for name, _, value in _identifiers(valid.assign):
                wanted[name].add(value)
        clauses = [{name: {"$in": sorted(values)}} for name, values in wanted.items() if values]
        if not clauses:
            return
        found = await self.store.users.find({"appId": self.app_id, "$or": clauses}).to_list()
        for document in found:
            self.live[document["_id"]] = document
            for name, _, value in _identifiers(document):
                self.holders[(name, value)] = document
        pending = {d["mergedInto"] for d in found if "mergedInto" in d} - set(self.live)
        for _ in range(MAX_REDIRECTS):
            if not pending:
                break
            targets = await self.store.users.find({"appId": self.app_id, "_id": {"$in": sorted(pending)}}).to_list()
            self.live.update((target["_id"], target) for target in targets)
            pending = {t["mergedInto"] for t in targets if "mergedInto" in t} - set(self.live)

    def resolve(self, valid: ValidPatch) -> Document | None:
        ref = _lookup_ref(valid)
        assert ref is not None
        name = {"externalUserId": "externalUserId", "email": "emails", "phone": "phones"}[ref.kind]
        document = self.holders.get((name, ref.value))
        for _ in range(MAX_REDIRECTS):
            if document is None or "mergedInto" not in document:
                return document
            document = self.live.get(document["mergedInto"])
        return None

    def conflicts(self, document: Document, path: Field) -> list[DomainError]:
        errors = []
        for name, position, value in _identifiers(document):
            holder = self.holders.get((name, value))
            if holder is not None and document["_id"] not in (holder["_id"], holder.get("mergedInto")):
                errors.append(_interrupted(name, value, (*path, name) if position is None else (*path, name, position)))
        return errors


def _check_duplicates(batch: _Batch, patches: dict[int, ValidPatch]) -> None:
    """Two records naming one identifier are reported, never silently merged."""
    owners: dict[tuple[str, str], int] = {}
    for index in sorted(patches):
        mine = _identifiers(patches[index].assign)
        clash = next(((n, p, v) for n, p, v in mine if (n, v) in owners), None)
        if clash is not None:
            name, position, value = clash
            where = (*batch.path, index, name) if position is None else (*batch.path, index, name, position)
            batch.fail(index, DomainError(
                ErrorCode.INVALID_INPUT, f"{name} {value!r} is also in record {owners[(name, value)]} of this batch", where
            ))
            continue
        owners.update(((name, value), index) for name, _, value in mine)


async def bulk_upsert(
    store: Store, app_id: str, actor: Actor, patches: Sequence[UserPatch], path: Field = ("records",)
) -> BulkResult:
    """Upsert each record like upsertUser; one bad record never blocks the others."""
    if len(patches) > MAX_RECORDS:
        raise DomainError(ErrorCode.LIMIT_EXCEEDED, f"at most {MAX_RECORDS} records per call", path)
    batch = _Batch(store, app_id, len(patches), path)
    valid: dict[int, ValidPatch] = {}
    for index, patch in enumerate(patches):
        try:
            checked = validate_patch(patch, (*path, index))
            if _lookup_ref(checked) is None:
                raise DomainError(
                    ErrorCode.INVALID_INPUT, "name the user by externalUserId, or else by an email or phone", (*path, index)
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
    _check_duplicates(batch, {i: v for i, v in valid.items() if i not in batch.failed})
    remaining = {i: v for i, v in valid.items() if i not in batch.failed}
    await batch.look_up(remaining)
    writes, events, retry = await _write(batch, actor, remaining)
    for index in retry:  # lost a race with another writer: the single-record path sorts it out
        try:
            document, _ = await upsert_user(store, app_id, actor, patches[index], (*path, index))
            batch.result.user_ids[index] = document["_id"]
        except (DomainError, DomainErrors) as error:
            batch.fail(index, error)
    if events:
        await store.history.insert_many(events, ordered=False)
    batch.result.user_ids.update(writes)
    batch.result.failures = [
        BulkFailure(index, error.code, error.message, error.field) for index, error in sorted(batch.failed.items())
    ]
    return batch.result


async def _write(
    batch: _Batch, actor: Actor, remaining: dict[int, ValidPatch]
) -> tuple[dict[int, str], list[dict[str, Any]], list[int]]:
    """Build every record's document and store them in one unordered bulk write."""
    claimed: dict[str, int] = {}
    operations: list[ReplaceOne[Document]] = []
    written: list[tuple[int, Document, bool]] = []
    unchanged: dict[int, str] = {}
    now = datetime.now(UTC)
    for index, valid in sorted(remaining.items()):
        record_path = (*batch.path, index)
        existing = batch.resolve(valid)
        if existing is not None and existing["_id"] in claimed:
            batch.fail(index, DomainError(
                ErrorCode.INVALID_INPUT, f"names the same user as record {claimed[existing['_id']]} of this batch", record_path
            ))
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
            operations.append(ReplaceOne({"_id": document["_id"], "appId": batch.app_id}, document, upsert=True))
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
            batch.app_id, document["_id"], EventKind.CREATED if created else EventKind.UPDATED, actor,
            _changed(remaining[index]),
        )
        for index, document, created in written
        if index not in retry
    ]
    ids = {index: document["_id"] for index, document, _ in written if index not in retry}
    return {**unchanged, **ids}, events, sorted(retry)
