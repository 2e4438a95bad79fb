"""mergeUsers: one profile absorbs another; the source becomes a tombstone.

The steps run as one unit of work (one transaction). ``STEP_HOOKS`` lets tests interrupt a merge between
two steps (the production list is empty) to show that nothing partial remains.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import StrEnum
from typing import Any

from app.domain import clock, history, installations, limits, sessions
from app.domain.actor import Actor
from app.domain.channel_documents import check_channel_limit
from app.domain.device_reach import devices_changed
from app.domain.errors import DomainError, ErrorCode
from app.domain.history import EventKind
from app.domain.profile import TEXT_FIELDS, Document, ProfileType, check_document_limits
from app.domain.retry import retry_transaction
from app.domain.users import StaleUser, UserRef, get_user, replace_if_unchanged, replace_with_version
from app.store import purges
from app.store.client import Store
from app.store.unit_of_work import UnitOfWork

STEP_HOOKS: list[Callable[[str], Awaitable[None]]] = []

STANDARD_FIELDS = (*TEXT_FIELDS, "birthday", "preferredLanguage", "timezone")
# Fields merged by their own rule, or never taken from the source.
_HANDLED = frozenset(
    {
        "_id",
        "appId",
        "version",
        "createdAt",
        "updatedAt",
        "signedUpAt",
        "type",
        "externalUserId",
        "emails",
        "phones",
        "tags",
        "channels",
        "attrs",
        "attrMeta",
        *STANDARD_FIELDS,
    }
)
_UNIONS = {
    "emails": limits.MAX_EMAILS_PER_USER,
    "phones": limits.MAX_PHONES_PER_USER,
    "tags": limits.MAX_TAGS_PER_USER,
}


class MergeStrategy(StrEnum):
    PREFER_TARGET = "PREFER_TARGET"
    PREFER_SOURCE = "PREFER_SOURCE"
    PREFER_NEWEST = "PREFER_NEWEST"


async def step(name: str) -> None:
    for hook in STEP_HOOKS:
        await hook(name)


def check_mergeable(target: Document, source: Document, path: tuple[str, ...] = ("source",)) -> None:
    if target["_id"] == source["_id"]:
        raise DomainError(ErrorCode.INVALID_INPUT, "a user cannot be merged into itself", path)
    ours, theirs = target.get("externalUserId"), source.get("externalUserId")
    if ours and theirs and ours != theirs:
        raise DomainError(
            ErrorCode.CONFLICTING_IDENTITIES,
            "the two users have different externalUserIds: they are different people",
            path,
        )


def _channel_keys(channel: Any) -> set[Any]:
    """What makes two stored channels one endpoint (as in app/domain/channel_documents)."""
    if not isinstance(channel, dict):
        return {("value", repr(channel))}
    keys: set[Any] = {("id", channel.get("id"))}
    if channel.get("key") is not None:
        keys.add(("key", channel.get("type"), channel["key"]))
    if channel.get("pushRegistrationId") is not None:
        keys.add(("push", channel.get("type"), channel["pushRegistrationId"]))
    if channel.get("address") is not None:
        keys.add(("address", channel.get("type"), channel["address"]))
    return keys


def _source_wins(
    target: Document, source: Document, strategy: MergeStrategy, target_time: Any, source_time: Any
) -> bool:
    if strategy is MergeStrategy.PREFER_SOURCE:
        return True
    if strategy is MergeStrategy.PREFER_NEWEST:
        return target_time is None or (source_time is not None and source_time > target_time)
    return False


def merged_document(target: Document, source: Document, strategy: MergeStrategy, path: tuple[str, ...]) -> Document:
    """The target as it is after absorbing the source (limits checked)."""
    result: Document = {
        **target,
        "attrs": dict(target.get("attrs", {})),
        "attrMeta": dict(target.get("attrMeta", {})),
    }
    if not result.get("externalUserId") and source.get("externalUserId"):
        result["externalUserId"] = source["externalUserId"]
    for name, maximum in _UNIONS.items():
        values = list(target.get(name, []))
        values.extend(value for value in source.get(name, []) if value not in values)
        if len(values) > maximum:
            raise DomainError(
                ErrorCode.LIMIT_EXCEEDED,
                f"together the users have more than {maximum} {name}",
                path,
            )
        result[name] = values
    known = set().union(*(_channel_keys(channel) for channel in target.get("channels", [])))
    result["channels"] = [
        *target.get("channels", []),
        *(c for c in source.get("channels", []) if not _channel_keys(c) & known),
    ]
    check_channel_limit(result["channels"], path)
    for name in STANDARD_FIELDS:
        if name not in source:
            continue
        if name not in target or _source_wins(
            target, source, strategy, target.get("updatedAt"), source.get("updatedAt")
        ):
            result[name] = source[name]
    source_meta: dict[str, Any] = source.get("attrMeta", {})
    for key, value in source.get("attrs", {}).items():
        theirs = source_meta.get(key, {})
        ours = result["attrMeta"].get(key)
        if ours is None or _source_wins(target, source, strategy, ours.get("updatedAt"), theirs.get("updatedAt")):
            result["attrs"][key] = value
            result["attrMeta"][key] = theirs
    for name, value in source.items():  # fields of other features (e.g. preferences)
        if name in _HANDLED or name == "mergedInto":
            continue
        if name not in result:
            result[name] = value
        elif isinstance(value, dict) and isinstance(result[name], dict):
            result[name] = {**value, **result[name]}
    result["signedUpAt"] = min(target["signedUpAt"], source.get("signedUpAt", target["signedUpAt"]))
    if ProfileType.CUSTOMER.value in (target.get("type"), source.get("type")):
        result["type"] = ProfileType.CUSTOMER.value
    check_document_limits(result, path)
    return result


async def absorb(
    unit: UnitOfWork,
    actor: Actor,
    target: Document,
    source: Document,
    strategy: MergeStrategy,
    now: datetime,
    path: tuple[str, ...] = ("source",),
) -> Document:
    """The merge steps, inside the caller's unit of work. Returns the stored target."""
    store = unit.store
    check_mergeable(target, source, path)
    app_id: str = target["appId"]
    arriving = await installations.count_held(store, app_id, source["_id"], unit.session)
    await installations.check_room(store, app_id, target["_id"], arriving, path, unit.session)
    merged = merged_document(target, source, strategy, path)
    merged["updatedAt"] = now
    # The tombstone goes first: it releases the source's registry entries for the target to claim.
    tombstone = {
        "_id": source["_id"],
        "appId": app_id,
        "mergedInto": target["_id"],
        "mergedAt": now,
    }
    if not await replace_if_unchanged(unit, source, tombstone):
        raise StaleUser(source["_id"])
    await step("source_tombstoned")
    if not await replace_with_version(unit, target, merged, path):
        raise StaleUser(target["_id"])
    await step("target_updated")
    if await installations.move_all(unit, app_id, source["_id"], target["_id"], now):
        devices_changed(unit, app_id, target["_id"])  # the source keeps only its redirect
    await step("installations_moved")
    # The history follows the person (and is erased with it), and the tombstones that redirected
    # to the source come to redirect to the target: as many as the source's past and the users
    # it absorbed, so both move in batches after the commit (app/store/purges.py); until then a
    # look-up of such a tombstone takes one more hop.
    await purges.schedule_history_move(unit, app_id, source["_id"], target["_id"], now)
    await sessions.revoke_for_user(unit, app_id, source["_id"])
    history.record(
        unit,
        app_id,
        target["_id"],
        EventKind.MERGED,
        actor,
        {"sourceUserId": source["_id"], "strategy": strategy.value},
        user=merged,
    )
    return merged


MAX_ATTEMPTS = 5


async def merge_users(
    store: Store,
    app_id: str,
    actor: Actor,
    target_ref: UserRef,
    source_ref: UserRef,
    strategy: MergeStrategy,
) -> Document:
    async def work(unit: UnitOfWork) -> Document:
        target = await get_user(store, app_id, target_ref, ("target",), unit.session)
        source = await get_user(store, app_id, source_ref, ("source",), unit.session)
        return await absorb(unit, actor, target, source, strategy, clock.now())

    return await retry_transaction(
        store,
        work,
        retry_on=(StaleUser,),
        attempts=MAX_ATTEMPTS,
        message="the users changed too often concurrently; retry",
    )
