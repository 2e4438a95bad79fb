"""Users: look-up by reference, upsert, update, delete, tags."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from app.crypto import SecretBox
from app.domain import clock, definitions, device_channels, history
from app.domain.actor import Actor
from app.domain.claims import Claims
from app.domain.email_identifier import email_identifier
from app.domain.errors import DomainError, DomainErrors, ErrorCode, not_found
from app.domain.events import DELETED_ON_REQUEST
from app.domain.history import EventKind
from app.domain.identifiers import normalize_email, normalize_phone, normalize_tags
from app.domain.profile import (
    DerivedEmail,
    Document,
    Field,
    UserPatch,
    ValidPatch,
    apply_patch,
    new_user_document,
    validate_patch,
)
from app.domain.retry import StaleUser as StaleUser  # re-exported: where the write paths import it
from app.domain.retry import retry_transaction
from app.store import ids, purges, registry, unit_of_work
from app.store import installations as installations_store
from app.store import users as users_store
from app.store.client import Session, Store
from app.store.errors import DuplicateKeyError
from app.store.unit_of_work import UnitOfWork

# Callers inside the server (the importer, scripts) vouch for any identifier, as app tokens do.
TRUSTED = Claims.trusted()
RefKind = Literal["id", "externalUserId", "email", "phone", "pushRegistrationId"]
MAX_WRITE_ATTEMPTS = 8
MAX_REDIRECTS = 8  # merged users point at their target; chains stay short


@dataclass(frozen=True, slots=True)
class UserRef:
    kind: RefKind
    value: str


def new_user_id() -> str:
    return ids.new_id()


def _registry_kind(ref: UserRef, path: Field) -> tuple[registry.Kind, str]:
    match ref.kind:
        case "externalUserId":
            return "externalUserId", ref.value
        case "email":
            return "email", normalize_email(ref.value, (*path, "email"))
        case "phone":
            return "phone", normalize_phone(ref.value, (*path, "phone"))
    raise ValueError(ref.kind)


async def find_user(
    store: Store, app_id: str, ref: UserRef, path: Field = (), session: Session | None = None
) -> Document | None:
    """The live user a reference names (following merge redirects), or None. An identifier
    is resolved through the registry (a point read by ``_id``), then the user by ``_id``."""
    if ref.kind == "pushRegistrationId":
        installation = await installations_store.find(store, app_id, ref.value, session)
        if installation is None:
            return None
        ref = UserRef("id", installation["userId"])
    if ref.kind == "id":
        user_id: str | None = ref.value
    else:
        user_id = await registry.holder(store, app_id, *_registry_kind(ref, path), session)
    if user_id is None:
        return None
    document = await users_store.find_by_id(store, app_id, user_id, session)
    for _ in range(MAX_REDIRECTS):
        if document is None or "mergedInto" not in document:
            return document
        document = await users_store.find_by_id(store, app_id, document["mergedInto"], session)
    return None


async def user_id_of(store: Store, app_id: str, ref: UserRef, path: Field = ()) -> UserRef:
    """``ref`` by id, for a write that reads the user itself: an identifier costs one
    registry read and no read of the user (a tombstone holds no identifier, so the holder is
    the live user); an id or a pushRegistrationId is resolved as ``get_user`` does. NOT_FOUND
    when nobody holds the identifier."""
    if ref.kind in ("id", "pushRegistrationId"):
        return UserRef("id", (await get_user(store, app_id, ref, path))["_id"])
    user_id = await registry.holder(store, app_id, *_registry_kind(ref, path))
    if user_id is None:
        raise not_found("the user", path)
    return UserRef("id", user_id)


async def get_user(
    store: Store, app_id: str, ref: UserRef, path: Field = (), session: Session | None = None
) -> Document:
    document = await find_user(store, app_id, ref, path, session)
    if document is None:
        raise not_found("the user", path)
    return document


async def find_users_by_ids(store: Store, app_id: str, ids: Sequence[str]) -> list[Document | None]:
    """Users in the order of ``ids`` (None for misses): one round trip, for DataLoaders."""
    found = await users_store.find_by_ids(store, app_id, ids)
    return [found.get(user_id) for user_id in ids]


async def check_identifier_conflicts(
    store: Store,
    app_id: str,
    user_id: str | None,
    document: Document,
    path: Field,
    session: Session | None = None,
    previous: Document | None = None,
    derived: DerivedEmail | None = None,
) -> None:
    """USER_MERGE_INTERRUPTED for each identifier of ``document`` held by another user (registry
    reads by ``_id``). Identifiers ``previous`` (the user as stored) holds are its own already:
    a change that adds none reads nothing. An email ``derived`` from the externalUserId is
    named at the externalUserId's input path."""
    named = registry.identifiers_of({**document, "appId": app_id})
    for registry_key in registry.identifiers_of(previous):
        named.pop(registry_key, None)
    if not named:
        return
    held = await registry.holders(store, named, session)
    errors = [
        merge_interrupted(field, value, input_field(field, position, value, path, derived))
        for registry_key, (field, position, value) in named.items()
        if held.get(registry_key, user_id) != user_id
    ]
    if errors:
        raise DomainErrors(errors)


def input_field(name: str, position: int | None, value: str, path: Field, derived: DerivedEmail | None) -> Field:
    """Where the input gave an identifier the user document holds."""
    if derived is not None and name == "emails" and value == derived.email:
        return derived.field
    return (*path, name) if position is None else (*path, name, position)


class IdentifierHeld(DomainError):
    """USER_MERGE_INTERRUPTED: another user holds the identifier ``value`` (user field ``name``)."""

    def __init__(self, name: str, value: str, path: Field) -> None:
        super().__init__(
            ErrorCode.USER_MERGE_INTERRUPTED,
            f"another user already holds {name} {value!r}; merge the two users explicitly with mergeUsers",
            path,
        )
        self.name = name
        self.value = value


def merge_interrupted(name: str, value: str, path: Field) -> DomainError:
    return IdentifierHeld(name, value, path)


def duplicate_key_error(
    error: DuplicateKeyError, document: Document, path: Field, derived: DerivedEmail | None = None
) -> DomainError:
    """Translate a held registry entry (a race the pre-check could not see) into a user error."""
    key_value: dict[str, Any] = (error.details or {}).get("keyValue") or {}
    for name in ("externalUserId", "emails", "phones"):
        if name in key_value:
            value = str(key_value[name])
            values = document.get(name, [])
            index = values.index(value) if isinstance(values, list) and value in values else None
            return merge_interrupted(name, value, input_field(name, index, value, path, derived))
    return DomainError(ErrorCode.USER_MERGE_INTERRUPTED, "another user already holds an identifier", path)


async def replace_with_version(
    unit: UnitOfWork, previous: Document, updated: Document, path: Field, derived: DerivedEmail | None = None
) -> bool:
    """Store ``updated`` if nobody changed the user since ``previous`` was read."""
    try:
        return await replace_if_unchanged(unit, previous, updated)
    except DuplicateKeyError as error:
        raise duplicate_key_error(error, updated, path, derived) from None


async def replace_if_unchanged(unit: UnitOfWork, previous: Document, updated: Document) -> bool:
    """Store ``updated`` as the next version if ``previous`` is still the stored one; False if not.
    A held identifier propagates (DuplicateKeyError from the registry)."""
    updated["version"] = previous["version"] + 1
    unit.touches(previous["_id"])
    await registry.sync(unit, previous, updated)  # the registry decides who holds an identifier
    return await unit.replace_one(
        unit.store.users, users_store.whole_document_guard(previous), users_store.with_channel_types(updated)
    )


async def insert_user(unit: UnitOfWork, document: Document) -> None:
    """Store a new user with its registry entries; a held identifier raises DuplicateKeyError."""
    unit.touches(document["_id"])
    await registry.sync(unit, None, document)
    await unit.insert_one(unit.store.users, users_store.with_channel_types(document))


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
    *,
    box: SecretBox,
    claims: Claims = TRUSTED,
) -> tuple[Document, bool]:
    """Create or update the user the input's identifier names. Returns (user, created).

    ``box`` encrypts channel secrets; ``claims``: what the caller vouches for (an email
    externalUserId adds its email only when the caller may claim it)."""
    valid = validate_patch(patch, path, box)
    await definitions.enforce(store, app_id, valid)
    valid.derive_email(await email_identifier(store, app_id, claims, valid.external_user_id), path)
    ref = lookup_ref(valid)
    if ref is None:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            "name the user by externalUserId, or else by at least one email or phone",
            path,
        )

    async def work(unit: UnitOfWork) -> tuple[Document, bool]:
        return await upsert_in(unit, app_id, actor, valid, ref, path)

    return await retry_transaction(
        store,
        work,
        retry_on=(StaleUser,),
        attempts=MAX_WRITE_ATTEMPTS,
        message="the user changed too often concurrently; retry",
        field=path,
    )


async def upsert_in(
    unit: UnitOfWork, app_id: str, actor: Actor, valid: ValidPatch, ref: UserRef, path: Field
) -> tuple[Document, bool]:
    """One upsert inside ``unit``; StaleUser when a concurrent writer got there first."""
    store = unit.store
    existing = await find_user(store, app_id, ref, path, unit.session)
    now = clock.now()
    if existing is not None:
        updated, devices_changed = await device_channels.adopt(
            unit, existing, apply_patch(existing, valid, path, now), now
        )
        if updated == existing and not devices_changed:
            return existing, False
        updated["updatedAt"] = now
        derived = valid.derived_email
        await check_identifier_conflicts(store, app_id, existing["_id"], updated, path, unit.session, existing, derived)
        if not await replace_with_version(unit, existing, updated, path, derived):
            raise StaleUser(existing["_id"])
        history.record(unit, app_id, existing["_id"], EventKind.UPDATED, actor, changed_fields(valid), user=updated)
        return updated, False
    document = apply_patch(new_user_document(app_id, new_user_id(), now), valid, path, now)
    try:
        await check_identifier_conflicts(store, app_id, None, document, path, unit.session, None, valid.derived_email)
        await insert_user(unit, document)
    except DuplicateKeyError as error:
        conflict = duplicate_key_error(error, document, path, valid.derived_email)
        if _names_lookup(conflict, ref, path):
            raise StaleUser(ref.value) from None  # a concurrent upsert created this user first
        raise conflict from None
    except DomainErrors as errors:
        # The pre-check can see the racer's user too (it was created after our look-up).
        if any(_names_lookup(error, ref, path) for error in errors.errors):
            raise StaleUser(ref.value) from None
        raise
    history.record(unit, app_id, document["_id"], EventKind.CREATED, actor, changed_fields(valid), user=document)
    return document, True


def _names_lookup(conflict: DomainError, ref: UserRef, path: Field) -> bool:
    """Whether ``conflict`` is about the identifier the upsert looked its user up by (an
    email or phone look-up uses the first of the list)."""
    lookup = {"externalUserId": ("externalUserId",), "email": ("emails", "0"), "phone": ("phones", "0")}
    expected = (*map(str, path), *lookup.get(ref.kind, ("-",)))
    if isinstance(conflict, IdentifierHeld) and conflict.name != expected[len(path)]:
        return False  # e.g. the email an externalUserId also is, named at the externalUserId
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
    *,
    box: SecretBox,
    claims: Claims = TRUSTED,
) -> Document:
    valid = validate_patch(patch, path, box)
    await definitions.enforce(store, app_id, valid)
    valid.derive_email(await email_identifier(store, app_id, claims, valid.external_user_id), path)
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
        derived=valid.derived_email,
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
    derived: DerivedEmail | None = None,
) -> Document:
    """Load, ``change(document, now) -> document``, store with a version guard and the event,
    as one unit of work; run again on races."""

    async def work(unit: UnitOfWork) -> Document:
        existing = await get_user(store, app_id, ref, ref_path, unit.session)
        if expected_version is not None and existing["version"] != expected_version:
            raise DomainError(
                ErrorCode.VERSION_CONFLICT,
                f"the user is at version {existing['version']}, not {expected_version}",
                ("expectedVersion",),
            )
        now = clock.now()
        updated, devices_changed = await device_channels.adopt(unit, existing, change(existing, now), now)
        if updated == existing and not devices_changed:
            return existing
        updated["updatedAt"] = now
        await check_identifier_conflicts(store, app_id, existing["_id"], updated, path, unit.session, existing, derived)
        if not await replace_with_version(unit, existing, updated, path, derived):
            raise StaleUser(existing["_id"])
        history.record(unit, app_id, existing["_id"], event, actor, details, user=updated)
        return updated

    return await retry_transaction(
        store,
        work,
        retry_on=(StaleUser,),
        attempts=MAX_WRITE_ATTEMPTS,
        message="the user changed too often concurrently; retry",
        field=path,
    )


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
    """Erase the user, its sessions and installations in one unit of work, with the purge of its
    history: nothing personal stays behind, and nothing is erased unless all of it is. The
    history, as long as the user's past, is deleted by housekeeping in batches
    (``app/store/purges.py``); from the commit on, nothing can read it.

    A user whose document is gone while its installations, sessions or history remain (an
    erasure interrupted before deletes were one unit) can be named by id or by one of its
    installations, and the erasure is finished."""

    async def work(unit: UnitOfWork) -> str:
        document = await find_user(store, app_id, ref, ("by",), unit.session)
        user_id = document["_id"] if document is not None else await _erased_user_id(unit, app_id, ref)
        if user_id is None:
            raise not_found("the user", ("by",))
        await erase(unit, app_id, user_id, document, DELETED_ON_REQUEST)
        return user_id

    return await unit_of_work.run(store, work)


async def erase(unit: UnitOfWork, app_id: str, user_id: str, document: Document | None, reason: str) -> None:
    """Stage the erasure of the user (``document``: as read in this unit, None when only its
    data is left), its sessions and installations, the purge of its history, and its
    ``user.deleted`` event with ``reason``."""
    unit.touches(user_id)
    await registry.release_user(unit, app_id, user_id)
    await unit.delete_many(unit.store.users, {"appId": app_id, "_id": user_id})
    # Its history and the tombstones that redirect to it (as many as its past and the users
    # it absorbed) are purged in batches after the commit; a tombstone left meanwhile
    # resolves to no one. Users it absorbed whose past has not moved to it yet (few: moves
    # run within seconds) are erased with it: their history and their own tombstones.
    now = clock.now()
    await purges.schedule_user_erasure(unit, app_id, user_id, now)
    for move in await purges.moves_to(unit.store, user_id, unit.session):
        absorbed = str(move["owner"][1])
        await purges.cancel_history_move(unit, app_id, absorbed)
        await purges.schedule_user_erasure(unit, app_id, absorbed, now)
    await unit.delete_many(unit.store.sessions, {"appId": app_id, "userId": user_id})
    await registry.release_installations(unit, app_id, user_id)
    await unit.delete_many(unit.store.installations, {"appId": app_id, "userId": user_id})
    history.record_deleted(unit, app_id, user_id, document, reason)


async def _erased_user_id(unit: UnitOfWork, app_id: str, ref: UserRef) -> str | None:
    """The id of a user without a document but with data left behind, or None."""
    if ref.kind == "id":
        user_id = ref.value
    elif ref.kind == "pushRegistrationId":
        installation = await installations_store.find(unit.store, app_id, ref.value, unit.session)
        if installation is None:
            return None
        user_id = installation["userId"]
    else:
        return None
    if await users_store.exists(unit.store, app_id, user_id, unit.session):
        return None  # a tombstone: merged, not erased
    return user_id if await users_store.has_data_left(unit.store, app_id, user_id, unit.session) else None
