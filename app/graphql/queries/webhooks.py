"""webhookEndpoints: the app's endpoints (app tokens)."""

from __future__ import annotations

import strawberry

from app.graphql.access import Info
from app.graphql.pipeline import APP, app_id_of, query
from app.graphql.types.webhooks import WebhookEndpoint
from app.store import webhooks


@strawberry.type
class WebhookQueries:
    @query(scopes=APP, description="The app's webhook endpoints, oldest first (app tokens only).")
    async def webhook_endpoints(self, info: Info) -> list[WebhookEndpoint]:
        context = info.context
        app_id = app_id_of(info)
        return [WebhookEndpoint(document=item) for item in await webhooks.list_endpoints(context.store, app_id)]
