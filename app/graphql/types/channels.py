"""Channels: how a user is reached. Secrets are write-only and never leave the gateway."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from app.domain.channel_specs import ChannelType
from app.graphql.access import Info
from app.graphql.enums import described_enum
from app.graphql.ids import encode_id

if TYPE_CHECKING:
    from app.graphql.types.installation import Installation

# Registers the domain enum itself (strawberry.enum returns the class it decorates), so
# annotations name a real type and values need no conversion.
described_enum(
    ChannelType,
    name="ChannelType",
    description="The kinds of delivery endpoint.",
    values={
        ChannelType.EMAIL: "An email address.",
        ChannelType.SMS: "A phone number for text messages (E.164).",
        ChannelType.WHATSAPP: "A phone number on WhatsApp (E.164).",
        ChannelType.ANDROID_PUSH: "An Android push token.",
        ChannelType.IOS_PUSH: "An iOS push token.",
        ChannelType.WEB_PUSH: "A browser push subscription (endpoint and keys).",
        ChannelType.SLACK: "A Slack user or channel, or an incoming webhook URL.",
        ChannelType.MS_TEAMS: "A Microsoft Teams bot conversation, or an incoming webhook URL.",
    },
)

__all__ = ["Channel", "ChannelType"]


@strawberry.type(description="A delivery endpoint of a user, with its opt-in flag.")
class Channel:
    document: strawberry.Private[dict[str, Any]]
    user_id: strawberry.Private[str | None] = None  # the user whose channel this is

    @classmethod
    def of(cls, document: dict[str, Any], user_id: str | None = None) -> Channel:
        return cls(document=document, user_id=user_id)

    @strawberry.field(description="Opaque id; pass it to removeChannel.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Channel", self.document["id"]))

    @strawberry.field(description="The kind of channel.")
    def type(self) -> ChannelType:
        return ChannelType(self.document["type"])

    @strawberry.field(
        description="Email, E.164 phone, push token, web push endpoint, or Slack/Teams target id; "
        "null for incoming webhooks (their url is a secret)."
    )
    def address(self) -> str | None:
        return self.document.get("address")

    @strawberry.field(description="Push provider: FCM, XIAOMI, OPPO or HUAWEI (Android); APNS or FCM (iOS).")
    def provider(self) -> str | None:
        return self.document.get("provider")

    @strawberry.field(description="The installation a push channel belongs to, when given.")
    def push_registration_id(self) -> str | None:
        return self.document.get("pushRegistrationId")

    @strawberry.field(description="The installation of a push channel, while it belongs to the same user.")
    async def installation(
        self, info: Info
    ) -> Annotated[Installation, strawberry.lazy("app.graphql.types.installation")] | None:
        from app.graphql.types.installation import Installation

        registration = self.document.get("pushRegistrationId")
        if registration is None or self.user_id is None:
            return None
        # Through the user's own installations: a device now owned by someone else stays hidden.
        owned = await info.context.loaders.installations_by_user_id.load(self.user_id)
        found = next((i for i in owned if i["pushRegistrationId"] == registration), None)
        return Installation.of(found) if found is not None else None

    @strawberry.field(
        description="Slack/Teams: how the channel is addressed (email, userId, channelId, "
        "conversationId, "
        "incomingWebhook)."
    )
    def target(self) -> str | None:
        return self.document.get("target")

    @strawberry.field(description="Whether the user agreed to be reached on this channel.")
    def opted_in(self) -> bool:
        return bool(self.document.get("optedIn"))

    @strawberry.field(description="An access token, webhook url or web push key is stored (encrypted; never returned).")
    def has_secret(self) -> bool:
        return "secret" in self.document

    @strawberry.field(description="When the channel was first added.")
    def created_at(self) -> datetime:
        value: datetime = self.document["createdAt"]
        return value

    @strawberry.field(description="When the channel last changed.")
    def updated_at(self) -> datetime:
        value: datetime = self.document["updatedAt"]
        return value
