"""WebhookEndpoint, its deliveries, and the webhook payloads."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import strawberry
from strawberry.relay import PageInfo

from app.domain import webhooks
from app.domain.errors import DomainError
from app.domain.webhooks import REDELIVERY_BATCH
from app.graphql.access import Info
from app.graphql.enums import described_enum
from app.graphql.errors import UserError, user_errors


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


described_enum(
    DeliveryStatus,
    name="DeliveryStatus",
    description="Where a delivery stands.",
    values={
        DeliveryStatus.PENDING: "Not delivered yet: waiting for its first or next attempt.",
        DeliveryStatus.SUCCEEDED: "The endpoint answered 2xx.",
        DeliveryStatus.FAILED: "Every retry failed, or the endpoint was disabled.",
    },
)


@strawberry.type(description="One event sent (or to be sent) to one endpoint.")
class WebhookDelivery:
    event_id: str = strawberry.field(description="The event's id, also the webhook-id header.")
    event_type: str = strawberry.field(description="The event's type.")
    status: DeliveryStatus = strawberry.field(description="PENDING until it succeeds or its retries run out.")
    attempts: int = strawberry.field(description="Attempts made so far.")
    last_attempt_at: datetime | None = strawberry.field(description="When it was last sent.")
    next_attempt_at: datetime | None = strawberry.field(description="When it is sent next (pending only).")
    response_status: int | None = strawberry.field(description="The HTTP status of the last attempt, if any.")

    @classmethod
    def of(cls, document: dict[str, Any]) -> WebhookDelivery:
        return cls(
            event_id=document["eventId"],
            event_type=document["eventType"],
            status=DeliveryStatus(document["status"]),
            attempts=document.get("attempts", 0),
            last_attempt_at=document.get("lastAttemptAt"),
            next_attempt_at=document.get("nextAttemptAt") if document["status"] == "PENDING" else None,
            response_status=document.get("responseStatus"),
        )


@strawberry.type(description="A delivery and its cursor.")
class WebhookDeliveryEdge:
    cursor: str = strawberry.field(description="Pass as `after` to continue after this delivery.")
    node: WebhookDelivery = strawberry.field(description="The delivery.")


@strawberry.type(description="A page of an endpoint's deliveries, in commit order of their events.")
class WebhookDeliveryConnection:
    edges: list[WebhookDeliveryEdge] = strawberry.field(description="The deliveries with their cursors.")
    page_info: PageInfo = strawberry.field(description="Whether more follow, and the cursor to continue.")
    user_errors: list[UserError] = strawberry.field(description="Why the paging arguments were refused.")

    @strawberry.field(description="The deliveries of this page.")
    def nodes(self) -> list[WebhookDelivery]:
        return [edge.node for edge in self.edges]


@strawberry.type(
    description="A redelivery still running: the endpoint's deliveries are walked oldest first, "
    f"{REDELIVERY_BATCH} at a time, in the background."
)
class WebhookRedelivery:
    since: datetime = strawberry.field(description="Deliveries of events at or after this time are sent again.")
    requested_at: datetime = strawberry.field(description="When it was asked for (last asked, if asked twice).")
    scheduled: int = strawberry.field(description="Deliveries scheduled to be sent again so far.")

    @classmethod
    def of(cls, document: dict[str, Any] | None) -> WebhookRedelivery | None:
        if document is None:
            return None
        return cls(since=document["since"], requested_at=document["requestedAt"], scheduled=document.get("queued", 0))


@strawberry.type(description="A URL that receives the app's change events, signed (Standard Webhooks).")
class WebhookEndpoint:
    document: strawberry.Private[dict[str, Any]]

    @strawberry.field(description="The endpoint's id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(self.document["_id"])

    @strawberry.field(description="Where events are POSTed.")
    def url(self) -> str:
        value: str = self.document["url"]
        return value

    @strawberry.field(description="The event types sent here; null: all.")
    def event_types(self) -> list[str] | None:
        value: list[str] | None = self.document.get("eventTypes")
        return value

    @strawberry.field(description="A note for people.")
    def description(self) -> str | None:
        value: str | None = self.document.get("description")
        return value

    @strawberry.field(description="False once disabled (by updateWebhookEndpoint, or after repeated failures).")
    def enabled(self) -> bool:
        return bool(self.document.get("enabled"))

    @strawberry.field(description="Why it was disabled by the gateway (FAILING), if it was.")
    def disabled_reason(self) -> str | None:
        value: str | None = self.document.get("disabledReason")
        return value

    @strawberry.field(description="When it was created.")
    def created_at(self) -> datetime:
        value: datetime = self.document["createdAt"]
        return value

    @strawberry.field(description=f"Its deliveries, oldest first; `first` is at most {webhooks.MAX_PAGE_SIZE}.")
    async def deliveries(
        self,
        info: Info,
        first: Annotated[int | None, strawberry.argument(description="How many deliveries to return.")] = 20,
        after: Annotated[str | None, strawberry.argument(description="The endCursor of the previous page.")] = None,
        status: Annotated[
            DeliveryStatus | None, strawberry.argument(description="Only deliveries in this status.")
        ] = None,
    ) -> WebhookDeliveryConnection:
        try:
            page = await webhooks.delivery_page(
                info.context.store, self.document["_id"], 20 if first is None else first, after, status
            )
        except DomainError as error:
            empty = PageInfo(has_next_page=False, has_previous_page=False, start_cursor=None, end_cursor=None)
            return WebhookDeliveryConnection(edges=[], page_info=empty, user_errors=user_errors(error))
        edges = [
            WebhookDeliveryEdge(cursor=webhooks.delivery_cursor(int(item["seq"])), node=WebhookDelivery.of(item))
            for item in page.deliveries
        ]
        page_info = PageInfo(
            has_next_page=page.more,
            has_previous_page=after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else after,
        )
        return WebhookDeliveryConnection(edges=edges, page_info=page_info, user_errors=[])

    @strawberry.field(description="The redelivery still running (redeliverWebhookEvents), or null.")
    async def redelivery(self, info: Info) -> WebhookRedelivery | None:
        return WebhookRedelivery.of(await info.context.loaders.redelivery_by_endpoint_id.load(self.document["_id"]))


@strawberry.type(description="An endpoint and, after create or rotate, its new secret (shown this once).")
class WebhookEndpointPayload:
    endpoint: WebhookEndpoint | None = strawberry.field(description="The endpoint; null when refused.")
    secret: str | None = strawberry.field(
        description="The signing secret (whsec_…): verify signatures with it. Shown only now."
    )
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused.")


@strawberry.type(description="The id of the deleted endpoint.")
class DeleteWebhookEndpointPayload:
    deleted_id: strawberry.ID | None = strawberry.field(description="The deleted endpoint's id.")
    user_errors: list[UserError] = strawberry.field(description="Why nothing was deleted (NOT_FOUND).")


@strawberry.type(description="How many deliveries were scheduled again, and whether more follow.")
class RedeliverWebhookEventsPayload:
    count: int = strawberry.field(description="Deliveries scheduled to be sent again before the call answered.")
    redelivery: WebhookRedelivery | None = strawberry.field(
        default=None,
        description="Null when `count` is every delivery since `since`; otherwise the redelivery that goes on "
        "in the background (also `WebhookEndpoint.redelivery`).",
    )
    user_errors: list[UserError] = strawberry.field(description="Why nothing was scheduled (NOT_FOUND).")


@strawberry.input(description="A new webhook endpoint.")
class CreateWebhookEndpointInput:
    url: str = strawberry.field(description="The https URL (a public address) that receives POSTs.")
    event_types: list[str] | None = strawberry.field(default=None, description="Only these types; null: all.")
    description: str | None = strawberry.field(default=None, description="A note for people.")


@strawberry.input(description="Changes to an endpoint; omitted fields stay as they are.")
class UpdateWebhookEndpointInput:
    url: str | None = strawberry.field(default=strawberry.UNSET, description="A new URL (checked like on create).")
    event_types: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description="Only these types; null: all."
    )
    description: str | None = strawberry.field(default=strawberry.UNSET, description="A note for people.")
    enabled: bool | None = strawberry.field(
        default=strawberry.UNSET,
        description="False stops deliveries; true resumes them (and resets the failure count).",
    )
