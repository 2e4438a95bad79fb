"""The baseline: a hand-written Starlette + PyMongo endpoint doing the gateway's store reads
for the same user and answering the same JSON, without GraphQL (and without verifying the
token's signature: only the key look-up the gateway does is repeated).

Run by bench/read.py: ``uvicorn bench.minimal:app`` with BENCH_STORE_URI and BENCH_DATABASE.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
from collections.abc import AsyncIterator
from typing import Any

import orjson
from pymongo import AsyncMongoClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.domain import attributes
from app.domain.attributes import AttributeType

Document = dict[str, Any]
CLIENT: dict[str, AsyncMongoClient[Document]] = {}


def _db() -> Any:
    return CLIENT["client"][os.environ.get("BENCH_DATABASE", "profile_gateway")]


def global_id(type_name: str, raw_id: str) -> str:
    return base64.urlsafe_b64encode(f"{type_name}:{raw_id}".encode()).decode().rstrip("=")


def installation_json(document: Document) -> Document:
    last_seen = document.get("lastSeenAt")
    return {
        "id": global_id("Installation", document["_id"]),
        "pushRegistrationId": document["pushRegistrationId"],
        "platform": document["platform"],
        "isPrimaryDevice": bool(document.get("isPrimaryDevice", False)),
        "lastSeenAt": last_seen.isoformat() if last_seen is not None else None,
    }


async def installations_of(app_id: str | None, user_ids: list[str]) -> dict[str, list[Document]]:
    """Every listed user's installations, oldest first: one look-up, as the gateway's
    DataLoader does."""
    grouped: dict[str, list[Document]] = {user_id: [] for user_id in user_ids}
    cursor = _db()["installations"].find({"appId": app_id, "userId": {"$in": user_ids}}).sort("createdAt", 1)
    async for document in cursor:
        grouped[document["userId"]].append(installation_json(document))
    return grouped


def user_json(document: Document, installations: list[Document]) -> Document:
    """The fields bench/read.py asks the gateway for, shaped the same way."""
    values: Document = document.get("attrs", {})
    meta: Document = document.get("attrMeta", {})
    return {
        "id": global_id("User", document["_id"]),
        "externalUserId": document.get("externalUserId"),
        "type": document["type"],
        "givenName": document.get("givenName"),
        "emails": document.get("emails", []),
        "tags": document.get("tags", []),
        "createdAt": document["createdAt"].isoformat(),
        "version": document["version"],
        "customAttributes": [
            {
                "key": key,
                "type": meta[key]["type"],
                "value": attributes.from_bson(AttributeType(meta[key]["type"]), values[key]),
            }
            for key in sorted(values)
            if key in meta
        ],
        "installations": installations,
    }


async def app_of(request: Request) -> str | None:
    """The same read as the gateway's authentication: the active key named by the token."""
    token = request.headers.get("authorization", "").removeprefix("Bearer ")
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    key = await _db()["app_keys"].find_one({"_id": header["kid"], "revokedAt": None})
    return None if key is None else str(key["appId"])


async def user(request: Request) -> Response:
    app_id = await app_of(request)
    body = orjson.loads(await request.body())
    document = await _db()["users"].find_one({"appId": app_id, "externalUserId": body["externalUserId"]})
    data: Document = {"user": None}
    if document is not None:
        installations = await installations_of(app_id, [document["_id"]])
        data["user"] = user_json(document, installations[document["_id"]])
    return Response(orjson.dumps({"data": data}), media_type="application/json")


async def users(request: Request) -> Response:
    app_id = await app_of(request)
    first = int(orjson.loads(await request.body())["first"])
    query = {"appId": app_id, "mergedInto": {"$exists": False}}
    documents = await _db()["users"].find(query).sort("_id", 1).limit(first + 1).batch_size(first + 1).to_list()
    page = documents[:first]
    end = base64.urlsafe_b64encode(f"users:{page[-1]['_id']}".encode()).decode().rstrip("=") if page else None
    installations = await installations_of(app_id, [document["_id"] for document in page])
    data = {
        "users": {
            "pageInfo": {"hasNextPage": len(documents) > first, "endCursor": end},
            "nodes": [user_json(document, installations[document["_id"]]) for document in page],
        }
    }
    return Response(orjson.dumps({"data": data}), media_type="application/json")


async def user_by_id(request: Request) -> Response:
    """``user(by: {id}) { id }`` for an app token whose key is cached (``BENCH_APP_ID``): the
    one look-up the gateway makes, by ``_id`` within the app. bench/scale.py compares the
    gateway's CPU per request with this endpoint's."""
    body = orjson.loads(await request.body())
    user_id: str = body["variables"]["v"]
    raw_id = base64.urlsafe_b64decode(user_id + "=" * (-len(user_id) % 4)).decode().partition(":")[2]
    document = await _db()["users"].find_one({"_id": raw_id, "appId": os.environ["BENCH_APP_ID"]})
    data = {"user": None if document is None else {"id": user_id}}
    return Response(orjson.dumps({"data": data}), media_type="application/json")


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    CLIENT["client"] = AsyncMongoClient(os.environ["BENCH_STORE_URI"], tz_aware=True)
    yield
    await CLIENT.pop("client").close()


app = Starlette(
    routes=[
        Route("/user", user, methods=["POST"]),
        Route("/users", users, methods=["POST"]),
        Route("/user-by-id", user_by_id, methods=["POST"]),
    ],
    lifespan=lifespan,
)
