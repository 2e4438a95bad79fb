"""A user's push destinations are its installations: derived at read time, never copied.

An enabled installation with a push token is its user's ANDROID_PUSH / IOS_PUSH channel. A
push channel stored on the user for an installation (``addChannel`` with a
``pushRegistrationId``) is shown through that installation: only while the user owns it and
push is enabled on it, with the installation's token when it has one. Because nothing is
copied, personalize, depersonalize and merge, which move installations, move these channels
with them. Pure functions: the caller loads the installations.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence

from app.domain.channel_specs import DEFAULT_PROVIDER, ChannelType
from app.domain.profile import Document

PUSH_BY_PLATFORM = {"ANDROID": ChannelType.ANDROID_PUSH, "IOS": ChannelType.IOS_PUSH}
PUSH_TYPES = frozenset({ChannelType.ANDROID_PUSH.value, ChannelType.IOS_PUSH.value})
DEVICE_CHANNEL_PREFIX = "device-"  # ids of derived channels: never stored, so never removable by id


def registrations_to_check(document: Document, owned: Sequence[Document]) -> list[str]:
    """pushRegistrationIds of stored push channels whose installation the user does not own:
    the caller checks whether they belong to someone else now."""
    mine = {installation["pushRegistrationId"] for installation in owned}
    return [
        channel["pushRegistrationId"]
        for channel in document.get("channels", [])
        if channel.get("type") in PUSH_TYPES and channel.get("pushRegistrationId") not in (None, *mine)
    ]


def _reachable(installation: Document, primary_only: bool) -> bool:
    if installation.get("isPushRegistrationEnabled") is False:
        return False
    return not primary_only or bool(installation.get("isPrimaryDevice"))


def _platform_push(installation: Document) -> ChannelType | None:
    """The push channel an installation is on its own: its platform's, while it holds a token."""
    kind = PUSH_BY_PLATFORM.get(installation.get("platform", ""))
    return kind if kind is not None and installation.get("pushToken") else None


def device_channel_types(installations: Iterable[Document]) -> list[str]:
    """The types of the push channels these installations are on their own, as
    ``effective_channels`` derives them, each once, sorted: what hasChannel matches for a
    user's devices (app/domain/device_reach.py)."""
    reachable = (item for item in installations if _reachable(item, primary_only=False))
    return sorted({kind.value for kind in map(_platform_push, reachable) if kind is not None})


def _through(channel: Document, installation: Document) -> Document:
    token = installation.get("pushToken")
    if not token:
        return channel
    provider = installation.get("pushProvider") or channel.get("provider") or DEFAULT_PROVIDER[channel["type"]]
    return {**channel, "address": token, "key": f"token:{token}", "provider": provider}


def _device_channel(installation: Document, kind: ChannelType) -> Document:
    created = installation["createdAt"]
    return {
        "id": f"{DEVICE_CHANNEL_PREFIX}{installation['_id']}",
        "type": kind.value,
        "key": f"token:{installation['pushToken']}",
        "address": installation["pushToken"],
        "provider": installation.get("pushProvider") or DEFAULT_PROVIDER[kind.value],
        "pushRegistrationId": installation["pushRegistrationId"],
        "optedIn": True,
        "createdAt": created,
        "updatedAt": installation.get("updatedAt") or created,
    }


def effective_channels(
    document: Document,
    owned: Sequence[Document],
    owned_elsewhere: Collection[str] = (),
    *,
    primary_only: bool = False,
) -> list[Document]:
    """The user's channels as a sender sees them. ``owned``: the user's installations;
    ``owned_elsewhere``: registrations of stored push channels now owned by another user.
    ``primary_only`` keeps only push destinations on primary devices."""
    by_registration = {installation["pushRegistrationId"]: installation for installation in owned}
    covered: set[str] = set()
    result: list[Document] = []
    for channel in document.get("channels", []):
        if channel.get("type") not in PUSH_TYPES:
            result.append(channel)
            continue
        registration = channel.get("pushRegistrationId")
        installation = by_registration.get(registration) if registration is not None else None
        if installation is None:
            # A token with no installation known: stored as given, not a device of anyone else.
            if not primary_only and registration not in owned_elsewhere:
                result.append(channel)
            continue
        covered.add(installation["pushRegistrationId"])
        if _reachable(installation, primary_only):
            result.append(_through(channel, installation))
    for installation in owned:
        kind = _platform_push(installation)
        if kind is None or installation["pushRegistrationId"] in covered:
            continue
        if _reachable(installation, primary_only):
            result.append(_device_channel(installation, kind))
    return result
