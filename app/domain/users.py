"""Users: look-up by reference, upsert, update, delete, tags."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from bson import ObjectId
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.errors import DuplicateKeyError

from app.crypto import SecretBox
from app.domain import clock, definitions, history
from app.domain.actor import Actor
from app.domain.errors import DomainError, DomainErrors, ErrorCode, not_found
from app.domain.history import EventKind
from app.domain.identifiers import normalize_email, normalize_phone, normalize_tags
from app.domain.profile import (
    Document,
    Field,
    UserPatch,
    ValidPatch,
    apply_patch,
    new_user_document,
    validate_patch,
)
from app.store.client import Store

RefKind = Literal["id", "externalUserId", "email", "phone", "pushRegistrationId"]
MAX_WRITE_ATTEMPTS = 8
MAX_REDIRECTS = 8  # merged users point at their target; chains stay short


@dataclass(frozen=True, slots=True)
class UserRef:
    kind: RefKind
    value: str


def new_user_id() -> str:
    # ObjectId text: unique without coordination and ordered by creation time.
    return str(ObjectId())


def _ref_query(app_id: str, ref: UserRef, path: Field) -> dict[str, Any]:
    match ref.kind:
        case "id":
            return {"appId": app_id, "_id": ref.value}
        case "externalUserId":
            return {"appId": app_id, "externalUserId": ref.value}
        case "email":
            return {"appId": app_id, "emails": normalize_email(ref.value, (*path, "email"))}
        case "phone":
            return {"appId": app_id, "phones": normalize_phone(ref.value, (*path, "phone"))}
    raise ValueError(ref.kind)


async def find_user(
    store: Store, app_id: str, ref: UserRef, path: Field = (), session: AsyncClientSession | None = None
) -> Document | None:
    """The live user a reference names (following merge redirects), or None."""
    if ref.kind == "pushRegistrationId":
        installation = await store.installations.find_one(
            {"appId": app_id, "pushRegistrationId": ref.value}, {"userId": 1}, session=session
        )
        if installation is None:
            return None
        ref = UserRef("id", installation["userId"])
    document = await store.users.find_one(_ref_query(app_id, ref, path), session=session)
    for _ in range(MAX_REDIRECTS):
        if document is None or "mergedInto" not in document:
            return document
        document = await store.users.find_one({"appId": app_id, "_id": document["mergedInto"]}, session=session)
    return None


async def get_user(
    store: Store, app_id: str, ref: UserRef, path: Field = (), session: AsyncClientSession | None = None
) -> Document:
    document = await find_user(store, app_id, ref, path, session)
    if document is None:
        raise not_found("the user", path)
    return document


async def find_users_by_ids(store: Store, app_id: str, ids: Sequence[str]) -> list[Document | None]:
    """Users in the order of ``ids`` (None for misses): one round trip, for DataLoaders."""
    found = {
        document["_id"]: document
        async for document in store.users.find({"appId": app_id, "_id": {"$in": list(set(ids))}})
    }
    return [found.get(user_id) for user_id in ids]


async def check_identifier_conflicts(
    store: Store,
    app_id: str,
    user_id: str | None,
    document: Document,
    path: Field,
    session: AsyncClientSession | None = None,
) -> None:
    """USER_MERGE_INTERRUPTED for each identifier of ``document`` held by another user."""
    clauses: list[dict[str, Any]] = []
    if document.get("externalUserId"):
        clauses.append({"externalUserId": document["externalUserId"]})
    if document.get("emails"):
        clauses.append({"emails": {"$in": document["emails"]}})
    if document.get("phones"):
        clauses.append({"phones": {"$in": document["phones"]}})
    if not clauses:
        return
    query: dict[str, Any] = {"appId": app_id, "$or": clauses}
    if user_id is not None:
        query["_id"] = {"$ne": user_id}
    projection = {"externalUserId": 1, "emails": 1, "phones": 1}
    holders = await store.users.find(query, projection, session=session).limit(10).to_list()
    errors = [error for holder in holders for error in _conflicts_with(document, holder, path)]
    if errors:
        raise DomainErrors(errors)


def _conflicts_with(document: Document, holder: Document, path: Field) -> list[DomainError]:
    errors = []
    if document.get("externalUserId") and holder.get("externalUserId") == document["externalUserId"]:
        errors.append(merge_interrupted("externalUserId", document["externalUserId"], (*path, "externalUserId")))
    for name in ("emails", "phones"):
        held = set(holder.get(name, []))
        for index, value in enumerate(document.get(name, [])):
            if value in held:
                errors.append(merge_interrupted(name, value, (*path, name, index)))
    return errors


def merge_interrupted(name: str, value: str, path: Field) -> DomainError:
    return DomainError(
        ErrorCode.USER_MERGE_INTERRUPTED,
        f"another user already holds {name} {value!r}; merge the two users explicitly with mergeUsers",
        path,
    )


def duplicate_key_error(error: DuplicateKeyError, document: Document, path: Field) -> DomainError:
    """Translate a unique-index violation (a race the pre-check could not see) into a user error."""
    key_value: dict[str, Any] = (error.details or {}).get("keyValue") or {}
    for name in ("externalUserId", "emails", "phones"):
        if name in key_value:
            value = str(key_value[name])
            values = document.get(name, [])
            index = values.index(value) if isinstance(values, list) and value in values else None
            field = (*path, name) if index is None else (*path, name, index)
            return merge_interrupted(name, value, field)
    return DomainError(ErrorCode.USER_MERGE_INTERRUPTED, "another user already holds an identifier", path)


async def replace_with_version(
    store: Store,
    previous: Document,
    updated: Document,
    path: Field,
    session: AsyncClientSession | None = None,
) -> bool:
    """Store ``updated`` if nobody changed the user since ``previous`` was read."""
    try:
        return await replace_if_unchanged(store, previous, updated, session)
    except DuplicateKeyError as error:
        raise duplicate_key_error(error, updated, path) from None


async def replace_if_unchanged(
    store: Store, previous: Document, updated: Document, session: AsyncClientSession | None = None
) -> bool:
    """Store ``updated`` as the next version if ``previous`` is still the stored one; False if not.
    A unique-index violation propagates (DuplicateKeyError)."""
    updated["version"] = previous["version"] + 1
    result = await store.users.replace_one(
        {"_id": previous["_id"], "appId": previous["appId"], "version": previous["version"]},
        updated,
        session=session,
    )
    return result.matched_count == 1


def lookup_ref(patch: ValidPatch) -> UserRef | None:
    """UpsertUserInput names its user by externalUserId, or else by its first email or phone."""
    if patch.external_user_id is not None:
        return UserRef("externalUserId", patch.external_user_id)
    if patch.assign.get("emails"):
        return UserRef("email", patch.assign["emails"][0])
    if patch.assign.get("phones"):
        return UserRef("phone", patch.assign["phones"][0])
    return None


async def upsert_user(
    store: Store,
    app_id: str,
    actor: Actor,
    patch: UserPatch,
    path: Field = ("input",),
    box: SecretBox | None = None,
) -> tuple[Document, bool]:
    """Create or update the user the input's identifier names. Returns (user, created).

    ``box`` encrypts channel secrets; inputs with channels need it."""
    valid = validate_patch(patch, path, box)
    await definitions.enforce(store, app_id, valid)
    ref = lookup_ref(valid)
    if ref is None:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            "name the user by externalUserId, or else by at least one email or phone",
            path,
        )
    for _ in range(MAX_WRITE_ATTEMPTS):
        existing = await find_user(store, app_id, ref, path)
        now = clock.now()
        if existing is not None:
            updated = apply_patch(existing, valid, path, now)
            if updated == existing:
                return existing, False
            updated["updatedAt"] = now
            await check_identifier_conflicts(store, app_id, existing["_id"], updated, path)
            if await replace_with_version(store, existing, updated, path):
                await history.record(
                    store, app_id, existing["_id"], EventKind.UPDATED, actor, changed_fields(valid), user=updated
                )
                return updated, False
            continue
        document = apply_patch(new_user_document(app_id, new_user_id(), now), valid, path, now)
        try:
            await check_identifier_conflicts(store, app_id, None, document, path)
            await store.users.insert_one(document)
        except DuplicateKeyError as error:
            conflict = duplicate_key_error(error, document, path)
            if _names_lookup(conflict, ref, path):
                continue  # a concurrent upsert created this user first: update it instead
            raise conflict from None
        except DomainErrors as errors:
            # The pre-check can see the racer's user too (it was created after our look-up).
            if any(_names_lookup(error, ref, path) for error in errors.errors):
                continue
            raise
        await history.record(
            store, app_id, document["_id"], EventKind.CREATED, actor, changed_fields(valid), user=document
        )
        return document, True
    raise DomainError(ErrorCode.VERSION_CONFLICT, "the user changed too often concurrently; retry", path)


def _names_lookup(conflict: DomainError, ref: UserRef, path: Field) -> bool:
    """Whether ``conflict`` is about the identifier the upsert looked its user up by (an
    email or phone look-up uses the first of the list)."""
    lookup = {"externalUserId": ("externalUserId",), "email": ("emails", "0"), "phone": ("phones", "0")}
    expected = (*map(str, path), *lookup.get(ref.kind, ("-",)))
    return conflict.code is ErrorCode.USER_MERGE_INTERRUPTED and conflict.field == expected


def changed_fields(valid: ValidPatch) -> dict[str, Any]:
    """Names of what changed (never the values: history must not copy personal data)."""
    fields = sorted({*valid.assign, *valid.remove})
    attrs = sorted({*valid.attributes_set, *valid.attributes_unset})
    changed: dict[str, Any] = {"fields": fields, "customAttributes": attrs}
    if valid.channels:
        changed["channels"] = sorted({channel.type.value for channel, _ in valid.channels})
    return changed


async def update_user(
    store: Store,
    app_id: str,
    actor: Actor,
    ref: UserRef,
    patch: UserPatch,
    expected_version: int | None = None,
    path: Field = ("patch",),
    ref_path: Field = ("by",),
    box: SecretBox | None = None,
) -> Document:
    valid = validate_patch(patch, path, box)
    await definitions.enforce(store, app_id, valid)
    return await modify_user(
        store,
        app_id,
        actor,
        ref,
        lambda doc, now: apply_patch(doc, valid, path, now),
        expected_version=expected_version,
        path=path,
        ref_path=ref_path,
        details=changed_fields(valid),
    )


async def modify_user(
    store: Store,
    app_id: str,
    actor: Actor,
    ref: UserRef,
    change: Callable[[Document, datetime], Document],
    *,
    expected_version: int | None = None,
    path: Field = (),
    ref_path: Field = ("by",),
    details: dict[str, Any] | None = None,
    event: EventKind = EventKind.UPDATED,
) -> Document:
    """Load, ``change(document, now) -> document``, store with a version guard; retry on races."""
    for _ in range(MAX_WRITE_ATTEMPTS):
        existing = await get_user(store, app_id, ref, ref_path)
        if expected_version is not None and existing["version"] != expected_version:
            raise DomainError(
                ErrorCode.VERSION_CONFLICT,
                f"the user is at version {existing['version']}, not {expected_version}",
                ("expectedVersion",),
            )
        now = clock.now()
        updated = change(existing, now)
        if updated == existing:
            return existing
        updated["updatedAt"] = now
        await check_identifier_conflicts(store, app_id, existing["_id"], updated, path)
        if await replace_with_version(store, existing, updated, path):
            await history.record(store, app_id, existing["_id"], event, actor, details, user=updated)
            return updated
    raise DomainError(ErrorCode.VERSION_CONFLICT, "the user changed too often concurrently; retry", path)


async def add_tags(store: Store, app_id: str, actor: Actor, ref: UserRef, tags: Sequence[str]) -> Document:
    wanted = normalize_tags(tags, ("tags",))

    def change(document: Document, now: datetime) -> Document:
        merged = list(document.get("tags", []))
        merged.extend(tag for tag in wanted if tag not in merged)
        normalize_tags(merged, ("tags",))  # the per-user limit applies to the result
        return {**document, "tags": merged}

    return await modify_user(store, app_id, actor, ref, change, details={"tagsAdded": wanted})


async def remove_tags(store: Store, app_id: str, actor: Actor, ref: UserRef, tags: Sequence[str]) -> Document:
    unwanted = set(normalize_tags(tags, ("tags",)))

    def change(document: Document, now: datetime) -> Document:
        return {**document, "tags": [tag for tag in document.get("tags", []) if tag not in unwanted]}

    return await modify_user(store, app_id, actor, ref, change, details={"tagsRemoved": sorted(unwanted)})


async def delete_user(store: Store, app_id: str, ref: UserRef) -> str:
    """Erase the user, its history, sessions and installations: nothing personal stays behind."""
    document = await get_user(store, app_id, ref, ("by",))
    user_id: str = document["_id"]
    await store.users.delete_one({"appId": app_id, "_id": user_id})
    # Tombstones of users merged into this one would otherwise still resolve to it.
    await store.users.delete_many({"appId": app_id, "mergedInto": user_id})
    await store.history.delete_many({"appId": app_id, "userId": user_id})
    await store.sessions.delete_many({"appId": app_id, "userId": user_id})
    await store.installations.delete_many({"appId": app_id, "userId": user_id})
    await history.publish(store, app_id, user_id, EventKind.DELETED, {}, clock.now(), user=document)
    return user_id
