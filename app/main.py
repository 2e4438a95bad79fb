"""create_app(settings): the Starlette application; its lifespan opens and closes the store."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

from pymongo.errors import PyMongoError
from pymongo.monitoring import CommandListener
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from app.config import Settings
from app.crypto import SecretBox
from app.graphql.schema import build_schema
from app.graphql.view import GraphQLEndpoint, GraphQLView
from app.local_secrets import ensure_local_secrets
from app.store.client import Store, open_store
from app.store.indexes import ensure_indexes

log = logging.getLogger("app")


@dataclass(slots=True)
class Runtime:
    """What the lifespan opened; reachable as ``app.state.runtime``."""

    settings: Settings
    store: Store
    box: SecretBox


class _LateEndpoint:
    """The /graphql ASGI app, bound to the store once the lifespan has opened it."""

    endpoint: GraphQLEndpoint | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.endpoint is None:
            raise RuntimeError("the application's lifespan has not started")
        await self.endpoint(scope, receive, send)


def create_app(settings: Settings, listeners: list[CommandListener] | None = None) -> Starlette:
    """``listeners``: PyMongo command listeners for the store's client (tests count round trips)."""
    if settings.embedded:
        settings = ensure_local_secrets(settings).settings
    assert settings.master_key is not None  # Settings fails fast outside the embedded mode
    box = SecretBox(settings.master_key.get_secret_value())
    schema = build_schema(max_depth=settings.max_query_depth)
    graphql = _LateEndpoint()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = open_store(settings, listeners)
        try:
            await ensure_indexes(store)
            app.state.runtime = Runtime(settings, store, box)
            graphql.endpoint = GraphQLEndpoint(GraphQLView(schema, settings, store, box))
            yield
        finally:
            graphql.endpoint = None
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

    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
