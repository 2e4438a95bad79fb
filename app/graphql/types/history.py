"""User.history: a cursor connection over the profile's events, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import strawberry
from strawberry.relay import PageInfo
from strawberry.scalars import JSON

from app.graphql.errors import UserError
from app.graphql.ids import encode_id


@strawberry.type(description="Who caused a profile event.")
class ProfileEventActor:
    scope: str = strawberry.field(description="Who acted: admin, app, user, session or system.")
    key_id: str | None = strawberry.field(description="The app key that signed the caller's token.")
    subject: str | None = strawberry.field(
        description="The externalUserId of a user token, or the user id of a session."
    )


@strawberry.type(description="One entry of a profile's append-only history.")
class ProfileEvent:
    id: strawberry.ID = strawberry.field(description="Opaque id of the event.")
    kind: str = strawberry.field(
        description="CREATED, UPDATED, PERSONALIZED, DEPERSONALIZED, INSTALLATION_MOVED, MERGED, "
        "CHANNEL_ADDED or CHANNEL_REMOVED (deleteUser erases the history with the user)."
    )
    at: datetime = strawberry.field(description="When it happened.")
    actor: ProfileEventActor = strawberry.field(description="Who did it.")
    details: JSON = strawberry.field(description="What changed (names and ids, never personal values).")

    @classmethod
    def of(cls, document: dict[str, Any]) -> ProfileEvent:
        actor = document.get("actor") or {}
        return cls(
            id=strawberry.ID(encode_id("ProfileEvent", str(document["_id"]))),
            kind=document["kind"],
            at=document["at"],
            actor=ProfileEventActor(
                scope=actor.get("scope", "system"),
                key_id=actor.get("keyId"),
                subject=actor.get("subject"),
            ),
            details=cast(JSON, document.get("details") or {}),
        )


@strawberry.type(description="One event and its cursor.")
class ProfileEventEdge:
    cursor: str = strawberry.field(description="Position of this event, for `after`.")
    node: ProfileEvent = strawberry.field(description="The event.")


@strawberry.type(description="Profile events, newest first.")
class ProfileEventConnection:
    edges: list[ProfileEventEdge] = strawberry.field(description="The events of this page.")
    page_info: PageInfo = strawberry.field(description="Paging state.")
    user_errors: list[UserError] = strawberry.field(
        default_factory=list,
        description="Why the paging arguments were refused (the page is then empty).",
    )
