"""The Installation type: one install of the business's app on a device."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from app.auth.principal import Scope
from app.domain.installation_data import Platform as DomainPlatform
from app.graphql.access import Info
from app.graphql.enums import described_enum
from app.graphql.ids import encode_id
from app.graphql.types.attributes import CustomAttribute, custom_attributes_of
from app.graphql.types.node import Node

if TYPE_CHECKING:
    from app.graphql.types.user import User

# Registers the domain enum itself as the GraphQL enum, so annotations use the domain class.
described_enum(
    DomainPlatform,
    name="Platform",
    description="The device platform.",
    values={
        DomainPlatform.ANDROID: "An Android device.",
        DomainPlatform.IOS: "An iOS or iPadOS device.",
        DomainPlatform.WEB: "A web browser.",
        DomainPlatform.OTHER: "Any other platform.",
    },
)


@strawberry.type(description="One install of the business's app on a device; belongs to one user at a time.")
class Installation(Node):
    document: strawberry.Private[dict[str, Any]]

    @classmethod
    def of(cls, document: dict[str, Any]) -> Installation:
        return cls(id=strawberry.ID(encode_id("Installation", document["_id"])), document=document)

    @strawberry.field(description="Permanent id of the installation, unique in the app.")
    def push_registration_id(self) -> str:
        value: str = self.document["pushRegistrationId"]
        return value

    @strawberry.field(description="ANDROID, IOS, WEB or OTHER.")
    def platform(self) -> DomainPlatform:
        return DomainPlatform(self.document["platform"])

    @strawberry.field(description="Whether the device accepts push messages.")
    def is_push_registration_enabled(self) -> bool:
        return bool(self.document.get("isPushRegistrationEnabled", True))

    @strawberry.field(description="The user's primary device (at most one per user).")
    def is_primary_device(self) -> bool:
        return bool(self.document.get("isPrimaryDevice", False))

    @strawberry.field(description="Whether a push token is stored.")
    def has_push_token(self) -> bool:
        return bool(self.document.get("pushToken"))

    @strawberry.field(
        description="The push token, for server-side (app scope) callers only; null for user and session tokens."
    )
    def push_token(self, info: Info) -> str | None:
        if info.context.principal.scope is not Scope.APP:
            return None
        return self.document.get("pushToken")

    @strawberry.field(description="FCM, APNS, XIAOMI, OPPO or HUAWEI.")
    def push_provider(self) -> str | None:
        return self.document.get("pushProvider")

    @strawberry.field(description="Version of the business's app on the device.")
    def app_version(self) -> str | None:
        return self.document.get("appVersion")

    @strawberry.field(description="Version of the SDK that registered the installation.")
    def sdk_version(self) -> str | None:
        return self.document.get("sdkVersion")

    @strawberry.field(description="Operating system, e.g. iOS or Android.")
    def os(self) -> str | None:
        return self.document.get("os")

    @strawberry.field(description="Operating system version.")
    def os_version(self) -> str | None:
        return self.document.get("osVersion")

    @strawberry.field(description="Device model, e.g. iPhone15,2.")
    def device_model(self) -> str | None:
        return self.document.get("deviceModel")

    @strawberry.field(description="BCP 47 language tag of the device.")
    def language(self) -> str | None:
        return self.document.get("language")

    @strawberry.field(description="IANA time zone of the device.")
    def timezone(self) -> str | None:
        return self.document.get("timezone")

    @strawberry.field(description="Custom attributes of the installation, sorted by key.")
    def custom_attributes(self) -> list[CustomAttribute]:
        return custom_attributes_of(self.document)

    @strawberry.field(description="The user the installation belongs to.")
    async def user(self, info: Info) -> Annotated[User, strawberry.lazy("app.graphql.types.user")]:
        from app.graphql.types.user import User

        document = await info.context.loaders.user_by_id.load(self.document["userId"])
        assert document is not None  # an installation always belongs to a live user
        return User.of(document)

    @strawberry.field(description="When the installation was first registered.")
    def created_at(self) -> datetime:
        value: datetime = self.document["createdAt"]
        return value

    @strawberry.field(description="When the device last registered or updated the installation.")
    def last_seen_at(self) -> datetime | None:
        return self.document.get("lastSeenAt")
