"""create_app(settings): the Starlette application; its lifespan opens and closes the store."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

from pymongo.errors import PyMongoError
from pymongo.monitoring import CommandListener
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from app.config import Settings
from app.crypto import SecretBox
from app.domain.device_reach import backfill_device_channel_types
from app.domain.webhooks_dispatcher import Dispatcher
from app.graphql.limits.rules import QueryLimits
from app.graphql.persisted import PersistedQueries, load_manifest
from app.graphql.schema import build_schema
from app.http.auth_failure_limit import AuthFailureLimit
from app.http.authentication import Authentication
from app.http.body_limit import BodySizeLimit
from app.http.graphiql import static_route
from app.http.graphql_over_http import GraphQLOverHttp
from app.http.graphql_view import GraphQLView, json_limits_of
from app.http.headers import SecurityHeaders
from app.http.idempotency import Idempotency
from app.http.idempotency_hook import IdempotencyHook
from app.http.json_errors import JsonErrorBodies
from app.http.local_buckets import LocalBuckets
from app.http.observe import Observe
from app.http.rate_limit import AppRateLimit, RateLimiter
from app.http.slow_clients import BodyReadTimeout
from app.http.subscription_view import SubscriptionView
from app.local_secrets import ensure_local_secrets
from app.observability.metrics import CONTENT_TYPE_LATEST, Metrics
from app.store import idempotency, persisted_queries, rate_limits
from app.store.client import Store, open_store
from app.store.indexes import ensure_indexes
from app.store.outbox_watch import OutboxWatch
from app.store.store_kind import detect_embedded_store

log = logging.getLogger("app")


@dataclass(slots=True)
class Runtime:
    """What the lifespan opened; reachable as ``app.state.runtime``."""

    settings: Settings
    store: Store
    box: SecretBox


class _LateEndpoint:
    """The /graphql ASGI app, bound to the store once the lifespan has opened it."""

    endpoint: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.endpoint is None:
            raise RuntimeError("the application's lifespan has not started")
        await self.endpoint(scope, receive, send)


def create_app(settings: Settings, listeners: list[CommandListener] | None = None) -> Starlette:
    """``listeners``: PyMongo command listeners for the store (tests count round trips with one)."""
    if settings.embedded:
        settings = ensure_local_secrets(settings).settings
    assert settings.master_key is not None  # Settings fails fast outside the embedded mode
    box = SecretBox(settings.master_key.get_secret_value())
    schema = build_schema(
        QueryLimits.from_settings(settings), settings.max_batch_operations, introspection=settings.introspection
    )
    manifest = settings.persisted_queries_manifest
    allow_list = load_manifest(manifest) if settings.persisted_queries_only and manifest else None
    graphql = _LateEndpoint()
    live = _LateEndpoint()  # the websocket side of /graphql (subscriptions)
    metrics = Metrics() if settings.metrics else None

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = open_store(settings, [*(listeners or []), *([metrics.store_listener] if metrics else [])])
        # Webhook delivery runs beside the requests, never inside one.
        erased = metrics.erased_leads if metrics else None
        dispatcher = Dispatcher(store, box, settings, on_leads_erased=erased) if settings.webhook_dispatcher else None
        delivering: asyncio.Task[None] | None = None
        polls = OutboxWatch(store, settings.subscription_poll_ms / 1000)
        try:
            await detect_embedded_store(store)
            await ensure_indexes(store)
            await backfill_device_channel_types(store)  # after channelTypes' own back-fill there
            await idempotency.ensure_indexes(store)
            await rate_limits.ensure_indexes(store)
            await persisted_queries.ensure_indexes(store)
            app.state.runtime = Runtime(settings, store, box)
            persisted = PersistedQueries(
                enabled=settings.persisted_queries,
                cache_size=settings.persisted_queries_cache_size,
                allow_list=allow_list,
                store=store,
                ttl=timedelta(hours=settings.persisted_queries_ttl_hours),
            )
            # Limits live in the store, so every replica shares them.
            limiter = (
                RateLimiter(
                    store,
                    "requests",
                    settings.rate_limit_per_second,
                    settings.rate_limit_burst,
                    lease=settings.rate_limit_lease,
                )
                if settings.rate_limit_per_second > 0
                else None
            )
            anonymous = (
                RateLimiter(store, "anonymous", settings.anonymous_limit_per_minute / 60, settings.anonymous_burst)
                if settings.anonymous_limit_per_minute > 0
                else None
            )
            networks = (
                RateLimiter(
                    store,
                    "anonymous-network",
                    settings.anonymous_network_limit_per_minute / 60,
                    settings.anonymous_network_burst,
                )
                if settings.anonymous_network_limit_per_minute > 0
                else None
            )
            auth_failures = (
                RateLimiter(
                    store, "auth-failures", settings.auth_failure_limit_per_minute / 60, settings.auth_failure_burst
                )
                if settings.auth_failure_limit_per_minute > 0
                else None
            )
            # One end user's own bucket, in this process's memory: no round trip per request.
            end_users = (
                LocalBuckets(settings.end_user_limit_per_second, settings.end_user_burst)
                if settings.end_user_limit_per_second > 0
                else None
            )
            live.endpoint = SubscriptionView(
                schema,
                settings,
                store,
                box,
                outbox_watch=polls,
                rate_limiter=limiter,
                auth_failures=auth_failures,
                end_users=end_users,
                metrics=metrics,
            )
            if dispatcher is not None:
                delivering = asyncio.create_task(dispatcher.run())
            registrations = (
                RateLimiter(
                    store,
                    "persisted-queries",
                    settings.persisted_queries_registrations_per_hour / 3600,
                    settings.persisted_queries_registrations_per_hour,
                )
                if settings.persisted_queries_registrations_per_hour > 0
                else None
            )
            view = GraphQLView(
                schema,
                settings,
                store,
                box,
                persisted,
                wake_dispatcher=dispatcher.wake if dispatcher else None,
                registrations=registrations,
            )
            idempotent = Idempotency(
                store,
                timedelta(hours=settings.idempotency_ttl_hours),
                max_tokens=settings.max_query_tokens,
                limits=json_limits_of(settings),
            )
            # Outermost first: refuse a blocked address before any look-up, then authenticate,
            # then spend the app's rate, then run once per Idempotency-Key.
            graphql.endpoint = GraphQLOverHttp(
                AuthFailureLimit(
                    Authentication(
                        AppRateLimit(IdempotencyHook(view, idempotent), limiter, anonymous, end_users, networks),
                        settings,
                        store,
                        box,
                        graphiql=view.graphql_ide is not None,
                    ),
                    auth_failures,
                )
            )
            yield
        finally:
            graphql.endpoint = None
            live.endpoint = None
            if dispatcher is not None and delivering is not None:  # its round ends before the store closes
                dispatcher.stop()
                await delivering
            await polls.close()
            await store.close()

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        runtime: Runtime = request.app.state.runtime
        try:
            await runtime.store.ping()
        except PyMongoError:
            return JSONResponse({"status": "unavailable", "store": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ready"})

    routes: list[BaseRoute] = [
        Route("/graphql", graphql),  # every method: GraphQLOverHttp answers 405 with its Allow
        WebSocketRoute("/graphql", live),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
    if settings.graphiql:
        routes.append(static_route())  # from memory: a reinstall of the package cannot break it
    if metrics is not None:

        async def metrics_endpoint(request: Request) -> Response:
            return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

        routes.append(Route("/metrics", metrics_endpoint, methods=["GET"]))
    return Starlette(routes=routes, middleware=_edge(settings, metrics), lifespan=lifespan)


def _edge(settings: Settings, metrics: Metrics | None) -> list[Middleware]:
    """Outermost first: ids/logs/metrics see every answer, including the edge's refusals."""
    return [
        Middleware(Observe, metrics=metrics),
        Middleware(SecurityHeaders, hsts=settings.environment == "production"),
        Middleware(JsonErrorBodies),  # outside CORS: a refused preflight gets the JSON shape too
        Middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=[
                "authorization",
                "content-type",
                "x-session-token",
                "x-app-id",
                "x-request-id",
                "idempotency-key",
            ],
            expose_headers=["x-request-id", "retry-after", "idempotent-replayed"],
            max_age=600,
        ),
        Middleware(BodyReadTimeout, seconds=settings.body_timeout_seconds),
        Middleware(BodySizeLimit, max_bytes=settings.max_body_bytes),
    ]
