"""ChangeEvent and its connection (the changeEvents feed)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.relay import PageInfo

from app.domain.change_feed import encode_cursor
from app.graphql.errors import UserError


@strawberry.type(description="A committed change to a profile, as webhooks and the change feed deliver it.")
class ChangeEvent:
    id: str = strawberry.field(description="Stable event id (the webhook-id of its deliveries).")
    type: str = strawberry.field(description="The event type: user.created, user.updated, channel.added, …")
    occurred_at: datetime = strawberry.field(description="When the change was made.")
    app_id: str = strawberry.field(description="The app the user belongs to.")
    user_id: strawberry.ID = strawberry.field(description="The user's global id (as User.id).")
    external_user_id: str | None = strawberry.field(description="The user's external id, when it has one.")
    version: int | None = strawberry.field(description="The user's version after the change.")
    changed: list[str] = strawberry.field(
        description="Field names and custom attribute keys (attrs.<key>) that changed; never values."
    )
    source_user_id: strawberry.ID | None = strawberry.field(
        description="On user.merged: the global id of the user merged into this one."
    )
    deletion_reason: str | None = strawberry.field(
        description=(
            "On user.deleted: why the user was erased. `request`: deleteUser; `retention`: an anonymous"
            " lead idle for longer than the gateway's ANONYMOUS_LEAD_RETENTION_DAYS. Null on events"
            " stored before this field."
        )
    )

    @classmethod
    def of(cls, entry: dict[str, Any]) -> ChangeEvent:
        return cls(
            id=entry["id"],
            type=entry["type"],
            occurred_at=entry["occurredAt"],
            app_id=entry["appId"],
            user_id=strawberry.ID(entry["userId"]),
            external_user_id=entry.get("externalUserId"),
            version=entry.get("version"),
            changed=list(entry.get("changed", [])),
            source_user_id=strawberry.ID(entry["sourceUserId"]) if entry.get("sourceUserId") else None,
            deletion_reason=entry.get("deletionReason"),
        )


@strawberry.type(description="A change event and the cursor just after it.")
class ChangeEventEdge:
    cursor: str = strawberry.field(description="Store it; pass as `after` to resume after this event.")
    node: ChangeEvent = strawberry.field(description="The event.")

    @classmethod
    def of(cls, entry: dict[str, Any]) -> ChangeEventEdge:
        return cls(cursor=encode_cursor(int(entry["seq"])), node=ChangeEvent.of(entry))


@strawberry.type(description="A page of change events in commit order.")
class ChangeEventConnection:
    edges: list[ChangeEventEdge] = strawberry.field(description="The events with their cursors.")
    page_info: PageInfo = strawberry.field(
        description="Paging: endCursor is where to resume, even on an empty page (it moves past filtered-out events)."
    )
    user_errors: list[UserError] = strawberry.field(description="Why the arguments were refused.")

    @strawberry.field(description="The events of this page (edges without cursors).")
    def nodes(self) -> list[ChangeEvent]:
        return [edge.node for edge in self.edges]
