"""Webhook endpoints (app scope): create, update, rotate the secret, delete, replay."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import strawberry

from app.domain import webhooks
from app.domain.errors import ErrorCode
from app.domain.webhook_urls import UrlPolicy
from app.graphql.access import Info
from app.graphql.errors import UserError
from app.graphql.mutations.codes import INPUT_CODES
from app.graphql.pipeline import APP, app_id_of, mutation
from app.graphql.types.webhooks import (
    CreateWebhookEndpointInput,
    DeleteWebhookEndpointPayload,
    RedeliverWebhookEventsPayload,
    UpdateWebhookEndpointInput,
    WebhookEndpoint,
    WebhookEndpointPayload,
    WebhookRedelivery,
)


def _policy(info: Info) -> UrlPolicy:
    settings = info.context.settings
    return UrlPolicy(settings.webhooks_to_http_localhost, settings.webhook_allowed_networks)


def _no_redelivery(errors: list[UserError], arguments: dict[str, Any]) -> RedeliverWebhookEventsPayload:
    return RedeliverWebhookEventsPayload(count=0, user_errors=errors)


@strawberry.type
class WebhookMutations:
    @mutation(
        scopes=APP,
        description="Add an endpoint for the app's change events. The secret is shown once.",
        codes=INPUT_CODES,
    )
    async def create_webhook_endpoint(
        self,
        info: Info,
        input: Annotated[
            CreateWebhookEndpointInput, strawberry.argument(description="The URL, event types and description.")
        ],
    ) -> WebhookEndpointPayload:
        context = info.context
        app_id = app_id_of(info)
        created = await webhooks.create(
            context.store,
            context.box,
            _policy(info),
            app_id,
            input.url,
            input.event_types,
            input.description,
            context.settings.webhook_max_endpoints,
        )
        context.wake_dispatcher()
        return WebhookEndpointPayload(
            endpoint=WebhookEndpoint(document=created.endpoint), secret=created.secret, user_errors=[]
        )

    @mutation(
        scopes=APP,
        description="Change an endpoint's URL, event types, description, or enable it again.",
        codes=INPUT_CODES | {ErrorCode.NOT_FOUND},
    )
    async def update_webhook_endpoint(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The endpoint's id.")],
        input: Annotated[UpdateWebhookEndpointInput, strawberry.argument(description="What to change.")],
    ) -> WebhookEndpointPayload:
        context = info.context
        app_id = app_id_of(info)
        changes: dict[str, Any] = {}
        for name, key in (("url", "url"), ("event_types", "eventTypes"), ("description", "description")):
            value = getattr(input, name)
            if value is not strawberry.UNSET:
                changes[key] = value
        if input.enabled is not strawberry.UNSET and input.enabled is not None:
            changes["enabled"] = input.enabled
        if changes.get("url", "") is None:
            changes.pop("url")
        updated = await webhooks.update(context.store, _policy(info), app_id, str(id), changes)
        if updated.get("enabled"):
            context.wake_dispatcher()
        return WebhookEndpointPayload(endpoint=WebhookEndpoint(document=updated), secret=None, user_errors=[])

    @mutation(
        scopes=APP,
        description=(
            "Delete an endpoint. Its deliveries are gone with it (nothing can read them) and are"
            " deleted from the store in the background."
        ),
        codes=(ErrorCode.NOT_FOUND,),
    )
    async def delete_webhook_endpoint(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The endpoint's id.")]
    ) -> DeleteWebhookEndpointPayload:
        context = info.context
        app_id = app_id_of(info)
        deleted = await webhooks.delete(context.store, app_id, str(id))
        context.wake_dispatcher()  # its deliveries are purged by housekeeping
        return DeleteWebhookEndpointPayload(deleted_id=strawberry.ID(deleted), user_errors=[])

    @mutation(
        scopes=APP,
        description="A new secret for the endpoint, shown once; the previous one also signs during the grace period.",
        codes=(ErrorCode.NOT_FOUND,),
    )
    async def rotate_webhook_secret(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="The endpoint's id.")]
    ) -> WebhookEndpointPayload:
        context = info.context
        app_id = app_id_of(info)
        grace = timedelta(hours=context.settings.webhook_secret_grace_hours)
        rotated = await webhooks.rotate(context.store, context.box, app_id, str(id), grace)
        return WebhookEndpointPayload(
            endpoint=WebhookEndpoint(document=rotated.endpoint), secret=rotated.secret, user_errors=[]
        )

    @mutation(
        scopes=APP,
        description="Send again every event delivered to the endpoint since `since` (still retained): up to "
        f"{webhooks.REDELIVERY_BATCH} deliveries are scheduled before the call answers, the rest in the background "
        "(`redelivery`). Asked again while one runs, it starts over from the earlier of the two times.",
        failed=_no_redelivery,
        codes=(ErrorCode.NOT_FOUND,),
    )
    async def redeliver_webhook_events(
        self,
        info: Info,
        endpoint_id: Annotated[strawberry.ID, strawberry.argument(description="The endpoint's id.")],
        since: Annotated[datetime, strawberry.argument(description="Events delivered at or after this time.")],
    ) -> RedeliverWebhookEventsPayload:
        context = info.context
        app_id = app_id_of(info)
        redelivery = await webhooks.redeliver(context.store, app_id, str(endpoint_id), since)
        context.wake_dispatcher()  # the first batch is due now; housekeeping walks the rest
        return RedeliverWebhookEventsPayload(
            count=redelivery.count, redelivery=WebhookRedelivery.of(redelivery.running), user_errors=[]
        )
