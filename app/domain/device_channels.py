"""Push channels of a device live on its installation, never on the user.

An ANDROID_PUSH / IOS_PUSH channel added (addChannel, updateChannels, or the ``channels`` of
upsertUser / updateUser / personalize) with the
``pushRegistrationId`` of an installation its user owns, on the matching platform, writes
its token and provider onto that installation, in the same unit of work as the user's
change. The user's push destinations are derived from its installations at read time
(app/domain/push_destinations.py), so personalize, depersonalize (remote logout) and merge,
which move installations, move the token with them and the previous owner keeps no copy.
``optedIn`` given with such a channel sets the installation's ``isPushRegistrationEnabled``.

Removing such a channel (by its ``device-…`` id, by type and token, or by unsetting its
type) forgets the token on the installation. A channel naming an installation the user
does not own, or one on another platform, is stored on the user as before.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from app.domain.channel_specs import ChannelType, ValidChannel
from app.domain.device_reach import devices_changed
from app.domain.profile import Document
from app.domain.push_destinations import DEVICE_CHANNEL_PREFIX, PUSH_BY_PLATFORM, PUSH_TYPES
from app.domain.retry import StaleUser
from app.store.unit_of_work import UnitOfWork

Sealed = dict[str, str]


@dataclass(frozen=True, slots=True)
class Placed:
    """A push channel written onto an installation (``changed``: the installation changed)."""

    channel: ValidChannel
    installation: Document
    changed: bool

    @property
    def channel_id(self) -> str:
        return device_channel_id(self.installation)


def device_channel_id(installation: Document) -> str:
    """The id a device's push channel is shown with (push_destinations derives the same)."""
    return f"{DEVICE_CHANNEL_PREFIX}{installation['_id']}"


def device_kind(installation: Document) -> ChannelType | None:
    return PUSH_BY_PLATFORM.get(installation.get("platform", ""))


async def owned_installations(
    unit: UnitOfWork, user: Document, registrations: Collection[str] | None
) -> list[Document]:
    """The user's installations (only those with these pushRegistrationIds, when given), read
    inside the unit of work: one query."""
    selector: dict[str, object] = {"appId": user["appId"], "userId": user["_id"]}
    if registrations is not None:
        selector["pushRegistrationId"] = {"$in": sorted(registrations)}
    cursor = unit.store.installations.find(selector, session=unit.session)
    return [installation async for installation in cursor]


async def place(
    unit: UnitOfWork, user: Document, added: Sequence[tuple[ValidChannel, Sealed]], now: datetime
) -> tuple[dict[int, tuple[ValidChannel, Sealed]], dict[int, Placed]]:
    """Write the push channels that name an installation of ``user`` onto it. Returns, by
    position in ``added``, the channels still to store on the user and those placed on
    installations."""
    registrations = {
        channel.push_registration_id
        for channel, _ in added
        if channel.type.value in PUSH_TYPES and channel.push_registration_id is not None
    }
    if not registrations:
        return dict(enumerate(added)), {}  # no read at all for other channels
    devices = {
        installation["pushRegistrationId"]: installation
        for installation in await owned_installations(unit, user, registrations)
    }
    kept: dict[int, tuple[ValidChannel, Sealed]] = {}
    placed: dict[int, Placed] = {}
    for index, (channel, sealed) in enumerate(added):
        installation = devices.get(channel.push_registration_id or "")
        if installation is None or device_kind(installation) is not channel.type:
            kept[index] = (channel, sealed)
            continue
        changes: Document = {"pushToken": channel.address, "pushProvider": channel.provider}
        if channel.opted_in is not None:
            changes["isPushRegistrationEnabled"] = channel.opted_in
        installation, changed = await _set_on_device(unit, installation, changes, now)
        devices[installation["pushRegistrationId"]] = installation
        placed[index] = Placed(channel, installation, changed)
    return kept, placed


async def adopt(unit: UnitOfWork, previous: Document, updated: Document, now: datetime) -> tuple[Document, bool]:
    """``updated`` without the push channels this write stored on the user for one of its own
    devices (upsertUser / updateUser ``channels``): their token goes onto the device instead.
    Returns (the user, whether a device changed); reads nothing unless such a channel is there."""
    before = {channel.get("id"): channel for channel in previous.get("channels", [])}
    candidates = [
        channel
        for channel in updated.get("channels", [])
        if channel.get("type") in PUSH_TYPES
        and channel.get("pushRegistrationId")
        and before.get(channel.get("id")) != channel
    ]
    if not candidates:
        return updated, False
    registrations = {channel["pushRegistrationId"] for channel in candidates}
    devices = {item["pushRegistrationId"]: item for item in await owned_installations(unit, previous, registrations)}
    taken: set[str] = set()
    changed = False
    for channel in candidates:
        installation = devices.get(channel["pushRegistrationId"])
        kind = device_kind(installation) if installation is not None else None
        if installation is None or kind is None or kind.value != channel["type"]:
            continue
        changes = {"pushToken": channel.get("address"), "pushProvider": channel.get("provider")}
        _, device_changed = await _set_on_device(unit, installation, changes, now)
        changed = changed or device_changed
        taken.add(channel["id"])
    if not taken:
        return updated, False
    kept = [channel for channel in updated.get("channels", []) if channel.get("id") not in taken]
    return {**updated, "channels": kept}, changed


def without_copies(channels: list[Document], placed: Iterable[Placed]) -> list[Document]:
    """``channels`` without push channels stored on the user for the installations that now
    hold their token (a copy written before tokens went onto installations)."""
    registrations = {(item.channel.type.value, item.installation["pushRegistrationId"]) for item in placed}
    if not registrations:
        return channels
    return [
        channel for channel in channels if (channel.get("type"), channel.get("pushRegistrationId")) not in registrations
    ]


async def forget_tokens(unit: UnitOfWork, installations: Iterable[Document], now: datetime) -> None:
    """Remove the push token (and provider) from these installations of the user."""
    for installation in installations:
        await _update(unit, installation, {"$unset": {"pushToken": "", "pushProvider": ""}, "$set": {"updatedAt": now}})


def with_token(installations: Iterable[Document]) -> list[Document]:
    """The installations that are a push destination (a push platform and a token)."""
    return [item for item in installations if device_kind(item) is not None and item.get("pushToken")]


async def _set_on_device(
    unit: UnitOfWork, installation: Document, changes: Document, now: datetime
) -> tuple[Document, bool]:
    """Write ``changes`` onto the installation unless it holds them already: (the installation
    as it is now, whether it changed)."""
    if all(installation.get(name) == value for name, value in changes.items()):
        return installation, False
    await _update(unit, installation, {"$set": {**changes, "updatedAt": now}})
    return {**installation, **changes, "updatedAt": now}, True


async def _update(unit: UnitOfWork, installation: Document, update: Document) -> None:
    # Guarded by the owner: an installation that moved meanwhile makes the unit run again.
    selector = {"_id": installation["_id"], "appId": installation["appId"], "userId": installation["userId"]}
    if not await unit.update_one(unit.store.installations, selector, update):
        raise StaleUser(installation["userId"])
    devices_changed(unit, installation["appId"], installation["userId"])
