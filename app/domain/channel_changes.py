"""Several channel changes applied together: unset by type, remove by id or by value, add.

One load, one version-guarded write, one version bump; each change that took effect gets the
history event its single-channel mutation records (CHANNEL_ADDED / CHANNEL_REMOVED). The
single-channel mutations (addChannel, removeChannel, unsetChannels) run through the same
``apply_changes``. Push channels of a device are written onto its installation, in the same
unit of work (app/domain/device_channels.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.crypto import SecretBox
from app.domain import clock, device_channels, history, limits
from app.domain.actor import Actor
from app.domain.channel_documents import check_channel_limit, merge_channel, seal
from app.domain.channel_fields import fingerprint
from app.domain.channel_specs import ChannelSpec, ChannelType, ValidChannel, validate_channel
from app.domain.device_channels import Placed
from app.domain.errors import DomainError, ErrorCode, ErrorCollector, not_found
from app.domain.history import EventKind
from app.domain.identifiers import normalize_email, normalize_phone
from app.domain.profile import Document, Field, check_document_limits
from app.domain.push_destinations import DEVICE_CHANNEL_PREFIX, PUSH_TYPES
from app.domain.retry import retry_transaction
from app.domain.users import (
    MAX_WRITE_ATTEMPTS,
    StaleUser,
    UserRef,
    check_identifier_conflicts,
    get_user,
    replace_with_version,
)
from app.store.client import Store
from app.store.unit_of_work import UnitOfWork

# Each list holds at most this many items (checked before anything else).
MAX_CHANGES = limits.MAX_CHANNELS_PER_USER


@dataclass(frozen=True, slots=True)
class ChannelMatch:
    """Which stored channel(s) to remove: by ``channel_id``, or by ``type`` plus ``address``
    (email, phone, push token, web push endpoint, Slack/Teams target id) or
    ``incoming_webhook_url`` (Slack/Teams incoming webhooks)."""

    channel_id: str | None = None
    type: ChannelType | None = None
    address: str | None = None
    incoming_webhook_url: str | None = None


def _address_key(kind: ChannelType, address: str, path: Field) -> str:
    """``address`` as the channel stores it (emails and phones normalised, the rest exact)."""
    match kind:
        case ChannelType.EMAIL:
            return normalize_email(address, (*path, "address"))
        case ChannelType.SMS | ChannelType.WHATSAPP:
            return normalize_phone(address.strip(), (*path, "address"))
        case ChannelType.SLACK if "@" in address:
            return normalize_email(address, (*path, "address"))
    return address


def _matcher(match: ChannelMatch, path: Field) -> tuple[str, str]:
    """(stored field, value) a channel must have; type is checked separately."""
    if match.channel_id is not None:
        return "id", match.channel_id
    assert match.type is not None
    given = [name for name in ("address", "incoming_webhook_url") if getattr(match, name) is not None]
    if len(given) != 1:
        raise DomainError(ErrorCode.INVALID_INPUT, "give exactly one of address, incomingWebhookUrl", path)
    if match.incoming_webhook_url is not None:
        if match.type not in (ChannelType.SLACK, ChannelType.MS_TEAMS):
            raise DomainError(
                ErrorCode.INVALID_INPUT, "only SLACK and MS_TEAMS have incoming webhooks", (*path, "incomingWebhookUrl")
            )
        return "key", f"webhook:{fingerprint(match.incoming_webhook_url)}"
    assert match.address is not None
    if len(match.address) > limits.MAX_STRING_LENGTH:
        raise DomainError(ErrorCode.LIMIT_EXCEEDED, "address is too long", (*path, "address"))
    return "address", _address_key(match.type, match.address, path)


def _selects(channel: Document, match: ChannelMatch, matcher: tuple[str, str]) -> bool:
    name, value = matcher
    if match.type is not None and channel.get("type") != match.type.value:
        return False
    return channel.get(name) == value


def check_counts(add: Sequence[object], remove: Sequence[object], unset: Sequence[object]) -> None:
    for name, items in (("add", add), ("remove", remove), ("unset", unset)):
        if len(items) > MAX_CHANGES:
            raise DomainError(ErrorCode.LIMIT_EXCEEDED, f"{name} takes at most {MAX_CHANGES} items", (name,))


async def update_channels(
    store: Store,
    box: SecretBox,
    app_id: str,
    actor: Actor,
    ref: UserRef,
    add: Sequence[ChannelSpec] = (),
    remove: Sequence[ChannelMatch] = (),
    unset: Sequence[ChannelType] = (),
) -> Document:
    """Apply ``unset``, then ``remove``, then ``add`` to the user's channels, all or nothing.
    Every input is checked before the user is loaded; all errors are reported together."""
    check_counts(add, remove, unset)
    errors = ErrorCollector()
    valid: list[tuple[ValidChannel, dict[str, str]]] = []
    for index, spec in enumerate(add):
        try:
            channel = validate_channel(spec, ("add", index))
            valid.append((channel, seal(channel, box)))
        except DomainError as error:
            errors.add(error)
    matchers: list[tuple[str, str]] = []
    for index, match in enumerate(remove):
        try:
            path: Field = ("remove", index) if match.channel_id is not None else ("remove", index, "value")
            matchers.append(_matcher(match, path))
        except DomainError as error:
            errors.add(error)
    errors.raise_if_any()
    applied = await apply_changes(
        store, app_id, actor, ref, ChannelChanges(valid, list(zip(remove, matchers, strict=True)), unset)
    )
    return applied.user


@dataclass(frozen=True, slots=True)
class ChannelChanges:
    """Validated changes, and the input paths their errors name."""

    add: Sequence[tuple[ValidChannel, dict[str, str]]] = ()
    remove: Sequence[tuple[ChannelMatch, tuple[str, str]]] = ()
    unset: Sequence[ChannelType] = ()
    add_path: Field = ("add",)
    remove_path: Field = ("remove",)  # followed by the item's index, unless ``remove_one``
    remove_one: bool = False


@dataclass(frozen=True, slots=True)
class Applied:
    user: Document
    added_ids: list[str]  # the id of each added channel, in input order


async def apply_changes(store: Store, app_id: str, actor: Actor, ref: UserRef, changes: ChannelChanges) -> Applied:
    """Apply validated changes to the user's channels (and its devices' tokens) as one unit of
    work with one version bump; run again on races."""

    async def work(unit: UnitOfWork) -> Applied:
        existing = await get_user(store, app_id, ref, ("by",), unit.session)
        return await _apply(unit, actor, existing, changes)

    return await retry_transaction(
        store,
        work,
        retry_on=(StaleUser,),
        attempts=MAX_WRITE_ATTEMPTS,
        message="the user changed too often concurrently; retry",
        field=(),
    )


def _needs_devices(changes: ChannelChanges) -> bool:
    """Whether a removal could name a device's push channel (then the devices are read)."""
    if any(kind.value in PUSH_TYPES for kind in changes.unset):
        return True
    for match, (name, value) in changes.remove:
        if name == "id" and value.startswith(DEVICE_CHANNEL_PREFIX):
            return True
        if name == "address" and match.type is not None and match.type.value in PUSH_TYPES:
            return True
    return False


def _device_selects(device: Document, match: ChannelMatch, matcher: tuple[str, str]) -> bool:
    name, value = matcher
    if name == "id":
        return device_channels.device_channel_id(device) == value
    kind = device_channels.device_kind(device)
    return name == "address" and kind is not None and kind is match.type and device.get("pushToken") == value


async def _apply(unit: UnitOfWork, actor: Actor, existing: Document, changes: ChannelChanges) -> Applied:
    app_id = existing["appId"]
    now = clock.now()
    channels: list[Document] = list(existing.get("channels", []))
    devices = device_channels.with_token(
        await device_channels.owned_installations(unit, existing, None) if _needs_devices(changes) else []
    )
    forgotten: dict[str, Document] = {}
    events: list[tuple[EventKind, dict[str, Any]]] = []
    wanted = {kind.value for kind in changes.unset}
    if wanted:
        gone = [channel["id"] for channel in channels if channel.get("type") in wanted]
        channels = [channel for channel in channels if channel.get("type") not in wanted]
        for device in devices:
            kind = device_channels.device_kind(device)
            if kind is not None and kind.value in wanted:
                forgotten[device["_id"]] = device
                gone.append(device_channels.device_channel_id(device))
        if gone:
            events.append((EventKind.CHANNEL_REMOVED, {"types": sorted(wanted), "channelIds": gone}))
    for index, (match, matcher) in enumerate(changes.remove):
        path = changes.remove_path if changes.remove_one else (*changes.remove_path, index)
        gone_stored = [channel for channel in channels if _selects(channel, match, matcher)]
        gone_devices = [
            device for device in devices if device["_id"] not in forgotten and _device_selects(device, match, matcher)
        ]
        if not gone_stored and not gone_devices:
            raise not_found("the channel", path)
        channels = [channel for channel in channels if not _selects(channel, match, matcher)]
        for channel in gone_stored:
            events.append((EventKind.CHANNEL_REMOVED, {"channelId": channel["id"], "type": channel["type"]}))
        for device in gone_devices:
            forgotten[device["_id"]] = device
            kind = device_channels.device_kind(device)
            assert kind is not None  # with_token keeps push platforms only
            device_id = device_channels.device_channel_id(device)
            events.append((EventKind.CHANNEL_REMOVED, {"channelId": device_id, "type": kind.value}))
    await device_channels.forget_tokens(unit, forgotten.values(), now)
    kept, placed = await device_channels.place(unit, existing, changes.add, now)
    channels = device_channels.without_copies(channels, placed.values())
    added_ids: list[str] = []
    for index in range(len(changes.add)):
        if index in placed:
            item = placed[index]
            added_ids.append(item.channel_id)
            if item.changed:
                events.append((EventKind.CHANNEL_ADDED, _placed_details(item)))
            continue
        added, sealed = kept[index]
        merged, stored = merge_channel(channels, added, sealed, now)
        added_ids.append(stored["id"])
        if merged is not channels:
            events.append((EventKind.CHANNEL_ADDED, {"type": added.type.value, "channelId": stored["id"]}))
        channels = merged
    if not events and channels == existing.get("channels", []):
        return Applied(existing, added_ids)
    check_channel_limit(channels, changes.add_path)
    # A token placed on a device changes the user's channels as seen: the user's version moves too.
    updated = {**existing, "channels": channels, "updatedAt": now}
    check_document_limits(updated, changes.add_path)
    await check_identifier_conflicts(unit.store, app_id, existing["_id"], updated, changes.add_path, unit.session)
    if not await replace_with_version(unit, existing, updated, changes.add_path):
        raise StaleUser(existing["_id"])
    for event, details in events:
        history.record(unit, app_id, existing["_id"], event, actor, details, user=updated)
    return Applied(updated, added_ids)


def _placed_details(item: Placed) -> dict[str, Any]:
    return {
        "type": item.channel.type.value,
        "channelId": item.channel_id,
        "installationId": item.installation["_id"],
    }
