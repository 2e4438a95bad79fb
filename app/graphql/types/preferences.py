"""Preferences as clients see them, and the app's preference categories."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from app.domain import preferences
from app.domain.channel_specs import ChannelType as DomainChannelType
from app.graphql.errors import UserError
from app.graphql.types.channels import ChannelType


@strawberry.type(description="A kind of message an app sends (e.g. news, billing, security).")
class PreferenceCategory:
    document: strawberry.Private[dict[str, Any]]

    @strawberry.field(description="Unique in the app; what senders pass to canReceive.")
    def name(self) -> str:
        return str(self.document["name"])

    @strawberry.field(description="What the category is for, shown to users.")
    def description(self) -> str | None:
        return self.document.get("description")

    @strawberry.field(description="The choice of users who never chose.")
    def default_opted_in(self) -> bool:
        return bool(self.document["defaultOptedIn"])

    @strawberry.field(description="Users cannot opt out (e.g. security notices).")
    def mandatory(self) -> bool:
        return bool(self.document["mandatory"])

    @strawberry.field(description="When the category was last defined or changed.")
    def updated_at(self) -> datetime:
        value: datetime = self.document["updatedAt"]
        return value


@strawberry.type(description="A user's choice for one channel type within a category.")
class ChannelPreference:
    type: ChannelType = strawberry.field(description="The channel type this choice is for.")
    opted_in: bool = strawberry.field(description="Whether the user wants this category on this channel type.")


@strawberry.type(description="A user's effective choice for one of the app's categories.")
class CategoryPreference:
    category: str = strawberry.field(description="The category's name.")
    mandatory: bool = strawberry.field(description="Users cannot opt out of it.")
    opted_in: bool = strawberry.field(description="The user's choice, else the category's default.")
    chosen: bool = strawberry.field(description="Whether the user chose (false: the default applies).")
    channels: list[ChannelPreference] = strawberry.field(description="Per-channel-type overrides the user set.")


@strawberry.type(description="How and about what a user wants to be contacted.")
class Preferences:
    language: str | None = strawberry.field(description="BCP 47 tag (the profile's preferredLanguage).")
    timezone: str | None = strawberry.field(description="IANA time zone (the profile's timezone).")
    opted_out_channel_types: list[ChannelType] = strawberry.field(
        description="Channel types the user wants no messages on, in any category."
    )
    categories: list[CategoryPreference] = strawberry.field(description="Every category of the app, by name.")


def preferences_of(document: dict[str, Any], categories: list[dict[str, Any]]) -> Preferences:
    choices = preferences.category_choices(document)
    stored = preferences.stored_preferences(document)
    return Preferences(
        language=document.get("preferredLanguage"),
        timezone=document.get("timezone"),
        opted_out_channel_types=[DomainChannelType(kind) for kind in stored.get("optedOutChannelTypes", [])],
        categories=[
            CategoryPreference(
                category=category["name"],
                mandatory=bool(category["mandatory"]),
                opted_in=preferences.category_opted_in(document, category),
                chosen="optedIn" in choices.get(category["name"], {}),
                channels=[
                    ChannelPreference(type=DomainChannelType(item["type"]), opted_in=bool(item["optedIn"]))
                    for item in choices.get(category["name"], {}).get("channels", [])
                ],
            )
            for category in categories
        ],
    )


@strawberry.type(description="The defined category, or userErrors saying why nothing changed.")
class PreferenceCategoryPayload:
    category: PreferenceCategory | None = strawberry.field(description="The category as stored.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed, if anything was wrong.")


@strawberry.type(description="The removed category's name, or userErrors.")
class RemovePreferenceCategoryPayload:
    removed_name: str | None = strawberry.field(description="The name of the category that was removed.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing changed, if anything was wrong.")
