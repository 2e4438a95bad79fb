"""A second baseline for the gateway's CPU per request: a bare Strawberry schema, served
by Strawberry's own ASGI app on Starlette, with the parser and validation caches that
Strawberry ships and one field making the gateway's look-up. What it costs above
bench/minimal.py is Strawberry's share of a request (HTTP view, extension hooks,
graphql-core); what the gateway costs above it is the gateway's own (edge middleware,
authentication, limits, metrics, errors, context).

Run by bench/scale.py: ``uvicorn bench.bare_strawberry:app`` with BENCH_STORE_URI,
BENCH_DATABASE and BENCH_APP_ID; ``user(by: {id}) { id }`` answers what the gateway does.
"""

from __future__ import annotations

import base64
import contextlib
import os
from collections.abc import AsyncIterator
from typing import Any

import strawberry
from pymongo import AsyncMongoClient
from starlette.applications import Starlette
from starlette.routing import Route
from strawberry.asgi import GraphQL
from strawberry.extensions import ParserCache, ValidationCache

CLIENT: dict[str, AsyncMongoClient[dict[str, Any]]] = {}


@strawberry.type
class User:
    id: strawberry.ID


@strawberry.input(one_of=True)
class UserBy:
    id: strawberry.ID | None = strawberry.UNSET


@strawberry.type
class Query:
    @strawberry.field
    async def user(self, by: UserBy) -> User | None:
        """The user by GraphQL id, within the app of ``BENCH_APP_ID``: one look-up by ``_id``."""
        global_id = str(by.id)
        raw_id = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode().partition(":")[2]
        users = CLIENT["client"][os.environ.get("BENCH_DATABASE", "profile_gateway")]["users"]
        document = await users.find_one({"_id": raw_id, "appId": os.environ["BENCH_APP_ID"]})
        return None if document is None else User(id=strawberry.ID(global_id))


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    CLIENT["client"] = AsyncMongoClient(os.environ["BENCH_STORE_URI"], tz_aware=True)
    yield
    await CLIENT.pop("client").close()


schema = strawberry.Schema(
    query=Query, extensions=[lambda: ParserCache(maxsize=100), lambda: ValidationCache(maxsize=100)]
)
app = Starlette(routes=[Route("/graphql", GraphQL(schema))], lifespan=lifespan)
