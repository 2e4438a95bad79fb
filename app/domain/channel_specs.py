"""Channel inputs: one shape per channel type, validated into what the profile stores.

Nothing here touches the store or the master key: secrets stay plain text in memory until
``channel_documents.seal`` encrypts them into the document.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from app.domain.channel_fields import (
    MAX_ID_LENGTH,
    b64url,
    fingerprint,
    https_url,
    required,
    target_id,
    text_field,
    token_field,
)
from app.domain.errors import DomainError, ErrorCode
from app.domain.identifiers import normalize_email, normalize_phone

Field = tuple[str | int, ...]

PROVIDERS = {
    "ANDROID_PUSH": frozenset({"FCM", "XIAOMI", "OPPO", "HUAWEI"}),
    "IOS_PUSH": frozenset({"APNS", "FCM"}),
}
DEFAULT_PROVIDER = {"ANDROID_PUSH": "FCM", "IOS_PUSH": "APNS"}


class ChannelType(StrEnum):
    EMAIL = "EMAIL"
    SMS = "SMS"
    WHATSAPP = "WHATSAPP"
    ANDROID_PUSH = "ANDROID_PUSH"
    IOS_PUSH = "IOS_PUSH"
    WEB_PUSH = "WEB_PUSH"
    SLACK = "SLACK"
    MS_TEAMS = "MS_TEAMS"


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """A channel as a client sent it: ``member`` is the input's member name (e.g. "androidPush"),
    ``values`` its fields by input name; absent fields are None."""

    type: ChannelType
    member: str
    values: Mapping[str, Any]
    opted_in: bool | None = None  # None: a new channel is opted in, an existing one keeps its flag


@dataclass(slots=True)
class ValidChannel:
    """A validated channel. ``key`` says which stored channel it is (the same endpoint twice is
    one channel); ``secrets`` are plain text and must be sealed before they are stored."""

    type: ChannelType
    key: str
    opted_in: bool | None
    address: str | None = None
    provider: str | None = None
    push_registration_id: str | None = None
    details: dict[str, str] = field(default_factory=dict)  # stored and shown, never secret
    secrets: dict[str, str] = field(default_factory=dict)


def _email(spec: ChannelSpec, path: Field) -> ValidChannel:
    address = normalize_email(str(required(spec.values, "address", path)), (*path, "address"))
    return ValidChannel(spec.type, f"email:{address}", spec.opted_in, address=address)


def _phone(spec: ChannelSpec, path: Field) -> ValidChannel:
    phone = normalize_phone(str(required(spec.values, "phone", path)).strip(), (*path, "phone"))
    return ValidChannel(spec.type, f"phone:{phone}", spec.opted_in, address=phone)


def _push(spec: ChannelSpec, path: Field) -> ValidChannel:
    values = spec.values
    token = token_field(required(values, "token", path), (*path, "token"), "token")
    provider = str(values.get("provider") or DEFAULT_PROVIDER[spec.type]).strip().upper()
    allowed = PROVIDERS[spec.type]
    if provider not in allowed:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            f"provider must be one of {', '.join(sorted(allowed))}",
            (*path, "provider"),
        )
    registration = values.get("pushRegistrationId")
    if registration is not None:
        registration = text_field(registration, (*path, "pushRegistrationId"), MAX_ID_LENGTH, "pushRegistrationId")
    return ValidChannel(
        spec.type,
        f"token:{token}",
        spec.opted_in,
        address=token,
        provider=provider,
        push_registration_id=registration,
    )


def _web_push(spec: ChannelSpec, path: Field) -> ValidChannel:
    values = spec.values
    endpoint = https_url(required(values, "endpoint", path), (*path, "endpoint"), "endpoint")
    p256dh = b64url(required(values, "p256dh", path), (*path, "p256dh"), 65, "p256dh")
    auth = b64url(required(values, "auth", path), (*path, "auth"), 16, "auth")
    return ValidChannel(
        spec.type,
        f"endpoint:{endpoint}",
        spec.opted_in,
        address=endpoint,
        secrets={"p256dh": p256dh, "auth": auth},
    )


def _exactly_one(values: Mapping[str, Any], names: tuple[str, ...], path: Field) -> str:
    given = [name for name in names if values.get(name) is not None]
    if len(given) != 1:
        raise DomainError(ErrorCode.INVALID_INPUT, f"give exactly one of {', '.join(names)}", path)
    return given[0]


def _incoming_webhook(spec: ChannelSpec, path: Field) -> ValidChannel:
    """Slack and Teams incoming webhooks: the URL is the secret, its fingerprint the identity."""
    url = https_url(spec.values["incomingWebhookUrl"], (*path, "incomingWebhookUrl"), "incomingWebhookUrl")
    return ValidChannel(
        spec.type,
        f"webhook:{fingerprint(url)}",
        spec.opted_in,
        details={"target": "incomingWebhook"},
        secrets={"incomingWebhookUrl": url},
    )


def _slack(spec: ChannelSpec, path: Field) -> ValidChannel:
    values = spec.values
    target = _exactly_one(values, ("email", "userId", "channelId", "incomingWebhookUrl"), path)
    token_path = (*path, "accessToken")
    if target == "incomingWebhookUrl":
        if values.get("accessToken") is not None:
            raise DomainError(ErrorCode.INVALID_INPUT, "an incoming webhook needs no access token", token_path)
        return _incoming_webhook(spec, path)
    if values.get("accessToken") is None:
        raise DomainError(ErrorCode.INVALID_INPUT, f"a Slack {target} needs an accessToken", token_path)
    token = token_field(values["accessToken"], token_path, "accessToken")
    if target == "email":
        address = normalize_email(str(values[target]), (*path, target))
    else:
        address = target_id(values[target], (*path, target), target)
    return ValidChannel(
        spec.type,
        f"{target}:{address}",
        spec.opted_in,
        address=address,
        details={"target": target},
        secrets={"accessToken": token},
    )


def _ms_teams(spec: ChannelSpec, path: Field) -> ValidChannel:
    values = spec.values
    bot_fields = ("tenantId", "serviceUrl", "conversationId", "userId")
    if values.get("incomingWebhookUrl") is not None:
        extra = [name for name in bot_fields if values.get(name) is not None]
        if extra:
            raise DomainError(
                ErrorCode.INVALID_INPUT,
                "an incoming webhook takes no tenantId, serviceUrl or target id",
                (*path, extra[0]),
            )
        return _incoming_webhook(spec, path)
    try:
        tenant = str(uuid.UUID(text_field(required(values, "tenantId", path), (*path, "tenantId"), 64, "tenantId")))
    except ValueError:
        raise DomainError(ErrorCode.INVALID_INPUT, "tenantId must be a GUID", (*path, "tenantId")) from None
    service_url = https_url(required(values, "serviceUrl", path), (*path, "serviceUrl"), "serviceUrl")
    target = _exactly_one(values, ("conversationId", "userId"), path)
    address = target_id(values[target], (*path, target), target)
    return ValidChannel(
        spec.type,
        f"{target}:{tenant}:{address}",
        spec.opted_in,
        address=address,
        details={"target": target, "tenantId": tenant, "serviceUrl": service_url},
    )


_VALIDATORS: dict[ChannelType, Callable[[ChannelSpec, Field], ValidChannel]] = {
    ChannelType.EMAIL: _email,
    ChannelType.SMS: _phone,
    ChannelType.WHATSAPP: _phone,
    ChannelType.ANDROID_PUSH: _push,
    ChannelType.IOS_PUSH: _push,
    ChannelType.WEB_PUSH: _web_push,
    ChannelType.SLACK: _slack,
    ChannelType.MS_TEAMS: _ms_teams,
}


def validate_channel(spec: ChannelSpec, path: Field) -> ValidChannel:
    """Check one channel input; ``path`` points at the ChannelInput (errors go under its member)."""
    return _VALIDATORS[spec.type](spec, (*path, spec.member))
