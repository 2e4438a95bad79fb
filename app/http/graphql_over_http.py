"""The GraphQL-over-HTTP rules applied before /graphql reads a request, and the caching header
after it answers:

- only GET and POST: any other method (HEAD included) is 405 with `Allow: GET, POST`;
- a POST's body is application/json, anything else is 415;
- the response media type is negotiated from Accept (406 when none of ours is acceptable) and
  left in ``scope["state"]["media_type"]`` for the view;
- media types are matched case-insensitively (`application/JSON` is JSON);
- empty GET parameters (`operationName=`, `variables=`, `extensions=`) count as absent;
- a GET that runs an operation is answered `Cache-Control: private, no-store`: the answer
  depends on the caller's credentials and must not be kept by a shared cache.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.errors import send_error
from app.http.media_types import APPLICATION_JSON, GRAPHQL_RESPONSE_JSON, media_type, negotiate

ALLOWED_METHODS = "GET, POST"
OPTIONAL_GET_PARAMETERS = frozenset({"operationName", "variables", "extensions"})
GET_CACHE_CONTROL = "private, no-store"


class GraphQLOverHttp:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        request_id = state.get("request_id")
        headers = dict(scope["headers"])
        accepted = negotiate(headers[b"accept"].decode("latin-1") if b"accept" in headers else None)
        if scope["method"] not in ("GET", "POST"):
            await send_error(
                send,
                405,
                "GraphQL over HTTP accepts GET and POST requests only",
                request_id=request_id,
                headers={"allow": ALLOWED_METHODS},
                content_type=accepted or APPLICATION_JSON,
            )
            return
        scope = dict(scope)
        content_type = headers.get(b"content-type")
        if content_type is not None and _normalised(content_type) != content_type:
            scope["headers"] = [
                (name, _normalised(value) if name == b"content-type" else value) for name, value in scope["headers"]
            ]
        if scope["method"] == "GET":
            scope["query_string"] = _without_empty_parameters(scope.get("query_string", b""))
        operation = scope["method"] == "POST" or any(
            name in ("query", "extensions")
            for name, _ in parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        )
        if operation and accepted is None:
            await send_error(
                send,
                406,
                f"the response can be {GRAPHQL_RESPONSE_JSON} or {APPLICATION_JSON}; the Accept header names neither",
                request_id=request_id,
            )
            return
        if (
            scope["method"] == "POST"
            and media_type(headers.get(b"content-type", b"").decode("latin-1")) != APPLICATION_JSON
        ):
            await send_error(
                send,
                415,
                f"a POST's body must be {APPLICATION_JSON} (Content-Type)",
                request_id=request_id,
                content_type=accepted or APPLICATION_JSON,
            )
            return
        state["media_type"] = accepted or APPLICATION_JSON
        if scope["method"] != "GET" or not operation:
            await self.app(scope, receive, send)
            return

        async def uncacheable_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).setdefault("cache-control", GET_CACHE_CONTROL)
            await send(message)

        await self.app(scope, receive, uncacheable_send)


def _normalised(content_type: bytes) -> bytes:
    """Content-Type's media type lower-cased (its parameters kept as sent)."""
    bare, separator, parameters = content_type.decode("latin-1").partition(";")
    return (media_type(bare) + separator + parameters).encode("latin-1")


def _without_empty_parameters(query_string: bytes) -> bytes:
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    kept = [(name, value) for name, value in pairs if value or name not in OPTIONAL_GET_PARAMETERS]
    if len(kept) == len(pairs):
        return query_string
    return urlencode(kept).encode("latin-1")
