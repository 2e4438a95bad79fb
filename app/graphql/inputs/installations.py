"""Inputs of the installation and identity operations."""

from __future__ import annotations

import strawberry

import app.graphql.types.installation  # noqa: F401  (registers the Platform enum)
from app.domain.identity import Identity
from app.domain.installation_data import InstallationData
from app.domain.installation_data import Platform as DomainPlatform
from app.domain.merge import MergeStrategy as DomainMergeStrategy
from app.graphql.enums import described_enum
from app.graphql.inputs.attributes import CustomAttributeInput

# Registers the domain enum itself as the GraphQL enum, so annotations use the domain class.
described_enum(
    DomainMergeStrategy,
    name="MergeStrategy",
    description="Which value wins when both users have one: the target's, the source's, "
    "or the most recently updated (custom attributes by their own update time).",
    values={
        DomainMergeStrategy.PREFER_TARGET: "The target's value wins.",
        DomainMergeStrategy.PREFER_SOURCE: "The source's value wins.",
        DomainMergeStrategy.PREFER_NEWEST: "The most recently updated value wins.",
    },
)


@strawberry.input(description="An installation to register or update. Omitted (or null) fields are left alone.")
class InstallationInput:
    push_registration_id: str = strawberry.field(description="Permanent id of the installation, unique in the app.")
    platform: DomainPlatform = strawberry.field(description="ANDROID, IOS, WEB or OTHER.")
    push_token: str | None = strawberry.field(default=None, description="Write-only: queries show hasPushToken.")
    push_provider: str | None = strawberry.field(default=None, description="FCM, APNS, XIAOMI, OPPO or HUAWEI.")
    is_push_registration_enabled: bool | None = strawberry.field(
        default=None, description="Whether the device accepts push messages (new: true)."
    )
    app_version: str | None = strawberry.field(default=None, description="App version.")
    sdk_version: str | None = strawberry.field(default=None, description="SDK version.")
    os: str | None = strawberry.field(default=None, description="Operating system.")
    os_version: str | None = strawberry.field(default=None, description="OS version.")
    device_model: str | None = strawberry.field(default=None, description="Device model.")
    language: str | None = strawberry.field(default=None, description="BCP 47 tag.")
    timezone: str | None = strawberry.field(default=None, description="IANA time zone.")
    custom_attributes: list[CustomAttributeInput] | None = strawberry.field(
        default=None, description="Sets (or, with null values, removes) these keys."
    )

    def to_domain(self) -> InstallationData:
        return InstallationData(
            push_registration_id=self.push_registration_id,
            platform=DomainPlatform(self.platform),
            push_token=self.push_token,
            push_provider=self.push_provider,
            is_push_registration_enabled=self.is_push_registration_enabled,
            app_version=self.app_version,
            sdk_version=self.sdk_version,
            os=self.os,
            os_version=self.os_version,
            device_model=self.device_model,
            language=self.language,
            timezone=self.timezone,
            custom_attributes=[(item.key, item.value.to_domain()) for item in self.custom_attributes or []],
        )


@strawberry.input(
    description='Who the person on an installation is. Placeholders ("null", "anonymous", "0", ...) are refused.'
)
class UserIdentityInput:
    external_user_id: str | None = strawberry.field(default=None, description="The business's own id for the person.")
    emails: list[str] | None = strawberry.field(default=None, description="Email addresses.")
    phones: list[str] | None = strawberry.field(default=None, description="E.164.")

    def to_domain(self) -> Identity:
        return Identity(self.external_user_id, list(self.emails or []), list(self.phones or []))
