"""Several channel changes applied together: unset by type, remove by id or by value, add.

One load, one version-guarded write, one version bump; each change that took effect gets the
history event its single-channel mutation records (CHANNEL_ADDED / CHANNEL_REMOVED).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.crypto import SecretBox
from app.domain import clock, history, limits
from app.domain.actor import Actor
from app.domain.channel_documents import check_channel_limit, merge_channel, seal
from app.domain.channel_fields import fingerprint
from app.domain.channel_specs import ChannelSpec, ChannelType, ValidChannel, validate_channel
from app.domain.errors import DomainError, ErrorCode, ErrorCollector, not_found
from app.domain.history import EventKind
from app.domain.identifiers import normalize_email, normalize_phone
from app.domain.profile import Document, Field, check_document_limits
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
    wanted = {kind.value for kind in unset}

    async def work(unit: UnitOfWork) -> Document:
        existing = await get_user(store, app_id, ref, ("by",), unit.session)
        now = clock.now()
        channels: list[Document] = list(existing.get("channels", []))
        events: list[tuple[EventKind, dict[str, Any]]] = []
        if wanted:
            gone = [channel for channel in channels if channel.get("type") in wanted]
            channels = [channel for channel in channels if channel.get("type") not in wanted]
            if gone:
                details = {"types": sorted(wanted), "channelIds": [channel["id"] for channel in gone]}
                events.append((EventKind.CHANNEL_REMOVED, details))
        for index, (match, matcher) in enumerate(zip(remove, matchers, strict=True)):
            gone = [channel for channel in channels if _selects(channel, match, matcher)]
            if not gone:
                raise not_found("the channel", ("remove", index))
            channels = [channel for channel in channels if not _selects(channel, match, matcher)]
            for channel in gone:
                events.append((EventKind.CHANNEL_REMOVED, {"channelId": channel["id"], "type": channel["type"]}))
        for added, sealed in valid:
            merged, stored = merge_channel(channels, added, sealed, now)
            if merged is not channels:
                events.append((EventKind.CHANNEL_ADDED, {"type": added.type.value, "channelId": stored["id"]}))
            channels = merged
        if not events:
            return existing
        check_channel_limit(channels, ("add",))
        updated = {**existing, "channels": channels, "updatedAt": now}
        check_document_limits(updated, ("add",))
        await check_identifier_conflicts(store, app_id, existing["_id"], updated, ("add",), unit.session)
        if not await replace_with_version(unit, existing, updated, ("add",)):
            raise StaleUser(existing["_id"])
        for kind, details in events:
            history.record(unit, app_id, existing["_id"], kind, actor, details)
        return updated

    return await retry_transaction(
        store,
        work,
        retry_on=(StaleUser,),
        attempts=MAX_WRITE_ATTEMPTS,
        message="the user changed too often concurrently; retry",
        field=(),
    )
