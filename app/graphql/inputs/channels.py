"""ChannelInput: one member per channel type, each with its own shape."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import strawberry

from app.domain.channel_specs import ChannelSpec
from app.domain.channel_specs import ChannelType as DomainChannelType
from app.graphql.inputs import given

OPTED_IN = "Whether the user agreed to be reached here. Omitted: true for a new channel, else unchanged."


@strawberry.input(description="An email address.")
class EmailChannelInput:
    address: str = strawberry.field(description="An RFC 5322 address.")
    opted_in: bool | None = strawberry.field(default=None, description=OPTED_IN)


@strawberry.input(description="A phone number (SMS or WhatsApp).")
class PhoneChannelInput:
    phone: str = strawberry.field(description="E.164, e.g. +4915112345678.")
    opted_in: bool | None = strawberry.field(default=None, description=OPTED_IN)


@strawberry.input(description="A mobile push token.")
class PushChannelInput:
    token: str = strawberry.field(description="The provider's push token.")
    provider: str | None = strawberry.field(
        default=None,
        description="Android: FCM (default), XIAOMI, OPPO, HUAWEI. iOS: APNS (default) or FCM.",
    )
    push_registration_id: str | None = strawberry.field(
        default=None,
        description="The installation the token belongs to; a new token replaces the old one.",
    )
    opted_in: bool | None = strawberry.field(default=None, description=OPTED_IN)


@strawberry.input(description="A browser push subscription (the PushSubscription's endpoint and keys).")
class WebPushChannelInput:
    endpoint: str = strawberry.field(description="The push service's URL (https).")
    p256dh: str = strawberry.field(description="The subscription's public key, URL-safe base64 (stored encrypted).")
    auth: str = strawberry.field(description="The subscription's auth secret, URL-safe base64 (stored encrypted).")
    opted_in: bool | None = strawberry.field(default=None, description=OPTED_IN)


@strawberry.input(
    description="Slack: exactly one of email, userId, channelId (each with accessToken) or incomingWebhookUrl."
)
class SlackChannelInput:
    email: str | None = strawberry.field(default=None, description="The Slack user's email.")
    user_id: str | None = strawberry.field(default=None, description="A Slack user id.")
    channel_id: str | None = strawberry.field(default=None, description="A Slack channel id.")
    incoming_webhook_url: str | None = strawberry.field(
        default=None, description="An incoming webhook (https; stored encrypted)."
    )
    access_token: str | None = strawberry.field(
        default=None,
        description="Bot token for email/userId/channelId (stored encrypted, never returned).",
    )
    opted_in: bool | None = strawberry.field(default=None, description=OPTED_IN)


@strawberry.input(
    description="Microsoft Teams: tenantId + serviceUrl + exactly one of conversationId or userId; "
    "or only incomingWebhookUrl."
)
class MsTeamsChannelInput:
    tenant_id: str | None = strawberry.field(default=None, description="The Azure AD tenant (GUID).")
    service_url: str | None = strawberry.field(default=None, description="The bot service url (https).")
    conversation_id: str | None = strawberry.field(default=None, description="A Teams conversation id.")
    user_id: str | None = strawberry.field(default=None, description="A Teams user id.")
    incoming_webhook_url: str | None = strawberry.field(
        default=None, description="An incoming webhook (https; stored encrypted)."
    )
    opted_in: bool | None = strawberry.field(default=None, description=OPTED_IN)


@strawberry.input(one_of=True, description="A channel: exactly one member, named after its type.")
class ChannelInput:
    email: EmailChannelInput | None = strawberry.field(default=strawberry.UNSET, description="An EMAIL channel.")
    sms: PhoneChannelInput | None = strawberry.field(default=strawberry.UNSET, description="An SMS channel.")
    whatsapp: PhoneChannelInput | None = strawberry.field(default=strawberry.UNSET, description="A WHATSAPP channel.")
    android_push: PushChannelInput | None = strawberry.field(
        default=strawberry.UNSET, description="An ANDROID_PUSH channel (provider FCM, XIAOMI, OPPO or HUAWEI)."
    )
    ios_push: PushChannelInput | None = strawberry.field(default=strawberry.UNSET, description="An IOS_PUSH channel.")
    web_push: WebPushChannelInput | None = strawberry.field(
        default=strawberry.UNSET, description="A WEB_PUSH subscription."
    )
    slack: SlackChannelInput | None = strawberry.field(default=strawberry.UNSET, description="A SLACK channel.")
    ms_teams: MsTeamsChannelInput | None = strawberry.field(
        default=strawberry.UNSET, description="An MS_TEAMS channel."
    )

    def to_domain(self) -> ChannelSpec:
        for name, member, kind in _MEMBERS:
            value = getattr(self, name)
            if given(value):
                values = _camel(asdict(value))
                opted_in = values.pop("optedIn", None)
                return ChannelSpec(kind, member, values, opted_in)
        raise AssertionError("@oneOf guarantees one member")


_MEMBERS = (
    ("email", "email", DomainChannelType.EMAIL),
    ("sms", "sms", DomainChannelType.SMS),
    ("whatsapp", "whatsapp", DomainChannelType.WHATSAPP),
    ("android_push", "androidPush", DomainChannelType.ANDROID_PUSH),
    ("ios_push", "iosPush", DomainChannelType.IOS_PUSH),
    ("web_push", "webPush", DomainChannelType.WEB_PUSH),
    ("slack", "slack", DomainChannelType.SLACK),
    ("ms_teams", "msTeams", DomainChannelType.MS_TEAMS),
)


def _camel(values: dict[str, Any]) -> dict[str, Any]:
    """Input field names as clients wrote them, so error paths match the request."""
    result = {}
    for name, value in values.items():
        head, *rest = name.split("_")
        result[head + "".join(part.title() for part in rest)] = value
    return result


@strawberry.input(
    description="A stored channel named by value: its type plus address (email, phone, push token, "
    "web push endpoint, Slack/Teams target id) or, for Slack/Teams incoming webhooks, incomingWebhookUrl."
)
class ChannelAddressInput:
    type: DomainChannelType = strawberry.field(description="The channel's type.")
    address: str | None = strawberry.field(
        default=None, description="Email, phone (normalised as when added), token, endpoint or target id."
    )
    incoming_webhook_url: str | None = strawberry.field(
        default=None, description="The incoming webhook url of a SLACK or MS_TEAMS channel."
    )


@strawberry.input(one_of=True, description="Which channel to remove: by id, or by value.")
class ChannelMatch:
    id: strawberry.ID | None = strawberry.field(default=strawberry.UNSET, description="A Channel id.")
    value: ChannelAddressInput | None = strawberry.field(
        default=strawberry.UNSET, description="The channel's type and address (every channel that matches)."
    )
