"""Webhook endpoints (app scope): create, update, rotate the secret, delete, replay."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import strawberry

from app.auth import scopes
from app.domain import webhooks
from app.domain.webhook_urls import UrlPolicy
from app.graphql.access import Info
from app.graphql.errors import collect_user_errors
from app.graphql.types.webhooks import (
    CreateWebhookEndpointInput,
    DeleteWebhookEndpointPayload,
    RedeliverWebhookEventsPayload,
    UpdateWebhookEndpointInput,
    WebhookEndpoint,
    WebhookEndpointPayload,
)


def _policy(info: Info) -> UrlPolicy:
    settings = info.context.settings
    return UrlPolicy(settings.webhook_allow_http_localhost, settings.webhook_allowed_networks)


@strawberry.type
class WebhookMutations:
    @strawberry.mutation(description="Add an endpoint for the app's change events. The secret is shown once.")
    async def create_webhook_endpoint(self, info: Info, input: CreateWebhookEndpointInput) -> WebhookEndpointPayload:
        context = info.context
        app_id = scopes.require_app(context.principal)
        created, errors = await collect_user_errors(
            lambda: webhooks.create(
                context.store,
                context.box,
                _policy(info),
                app_id,
                input.url,
                input.event_types,
                input.description,
                context.settings.webhook_max_endpoints,
            )
        )
        if created is None:
            return WebhookEndpointPayload(endpoint=None, secret=None, user_errors=errors)
        return WebhookEndpointPayload(
            endpoint=WebhookEndpoint(document=created.endpoint), secret=created.secret, user_errors=[]
        )

    @strawberry.mutation(description="Change an endpoint's URL, event types, description, or enable it again.")
    async def update_webhook_endpoint(
        self, info: Info, id: strawberry.ID, input: UpdateWebhookEndpointInput
    ) -> WebhookEndpointPayload:
        context = info.context
        app_id = scopes.require_app(context.principal)
        changes: dict[str, Any] = {}
        for name, key in (("url", "url"), ("event_types", "eventTypes"), ("description", "description")):
            value = getattr(input, name)
            if value is not strawberry.UNSET:
                changes[key] = value
        if input.enabled is not strawberry.UNSET and input.enabled is not None:
            changes["enabled"] = input.enabled
        if changes.get("url", "") is None:
            changes.pop("url")
        updated, errors = await collect_user_errors(
            lambda: webhooks.update(context.store, _policy(info), app_id, str(id), changes)
        )
        endpoint = WebhookEndpoint(document=updated) if updated else None
        return WebhookEndpointPayload(endpoint=endpoint, secret=None, user_errors=errors)

    @strawberry.mutation(description="Delete an endpoint and its deliveries.")
    async def delete_webhook_endpoint(self, info: Info, id: strawberry.ID) -> DeleteWebhookEndpointPayload:
        context = info.context
        app_id = scopes.require_app(context.principal)
        deleted, errors = await collect_user_errors(lambda: webhooks.delete(context.store, app_id, str(id)))
        return DeleteWebhookEndpointPayload(deleted_id=strawberry.ID(deleted) if deleted else None, user_errors=errors)

    @strawberry.mutation(
        description="A new secret for the endpoint, shown once; the previous one also signs during the grace period."
    )
    async def rotate_webhook_secret(self, info: Info, id: strawberry.ID) -> WebhookEndpointPayload:
        context = info.context
        app_id = scopes.require_app(context.principal)
        grace = timedelta(hours=context.settings.webhook_secret_grace_hours)
        rotated, errors = await collect_user_errors(
            lambda: webhooks.rotate(context.store, context.box, app_id, str(id), grace)
        )
        if rotated is None:
            return WebhookEndpointPayload(endpoint=None, secret=None, user_errors=errors)
        return WebhookEndpointPayload(
            endpoint=WebhookEndpoint(document=rotated.endpoint), secret=rotated.secret, user_errors=[]
        )

    @strawberry.mutation(description="Send again every event delivered to the endpoint since `since` (still retained).")
    async def redeliver_webhook_events(
        self, info: Info, endpoint_id: strawberry.ID, since: datetime
    ) -> RedeliverWebhookEventsPayload:
        context = info.context
        app_id = scopes.require_app(context.principal)
        count, errors = await collect_user_errors(
            lambda: webhooks.redeliver(context.store, app_id, str(endpoint_id), since)
        )
        return RedeliverWebhookEventsPayload(count=count or 0, user_errors=errors)
