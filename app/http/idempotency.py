"""Idempotent retries: a mutation request with an ``Idempotency-Key`` header runs once per app and
key; a repeat gets the first response again (header ``Idempotent-Replayed: true``).

The request holds its claim on the key while it runs: each unit of work it commits marks the
claim in the same transaction (app/store/unit_of_work.py). So a change is applied at most
once per key even when the response is lost: a repeat of a request whose change committed
but whose response was not kept (the store failed after the commit) is answered 409
``IDEMPOTENCY_KEY_APPLIED`` and never runs again."""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import timedelta

from cross_web import HTTPException
from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse
from pymongo.errors import PyMongoError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.errors import send_error
from app.http.json_body import JsonLimits, decode_request_json
from app.store import idempotency
from app.store.client import Store

log = logging.getLogger("app.http")

KEY = re.compile(r"^[\x21-\x7e]{1,255}$")  # printable ASCII, as the IETF draft suggests
RETRYABLE_CODES = (b'"UNAVAILABLE"', b'"INTERNAL_SERVER_ERROR"')


def is_mutation(body: bytes, max_tokens: int, limits: JsonLimits | None = None) -> bool:
    """Bounded like the view's own parse (JSON limits, token limit): a body the view would
    refuse is no mutation here either, and costs no more to look at than to refuse."""
    try:
        payload = decode_request_json(body, limits)
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            return False
        document = parse(payload["query"], no_location=True, max_tokens=max_tokens)
    except (ValueError, KeyError, TypeError, GraphQLError, HTTPException):
        return False  # the view below refuses it; nothing would be applied
    operations = [node for node in document.definitions if isinstance(node, OperationDefinitionNode)]
    wanted = payload.get("operationName")
    chosen = [node for node in operations if wanted is None or (node.name and node.name.value == wanted)]
    return any(node.operation == OperationType.MUTATION for node in chosen)


async def read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


class Idempotency:
    def __init__(self, store: Store, ttl: timedelta, max_tokens: int = 2_000, limits: JsonLimits | None = None) -> None:
        self.store = store
        self.ttl = ttl
        # The query limits of the view, so the mutation check is never the costlier parse.
        self.max_tokens = max_tokens
        self.limits = limits

    async def __call__(
        self, scope: Scope, receive: Receive, send: Send, app_id: str, caller: str, app: ASGIApp
    ) -> None:
        """``caller`` names who sent it within the app: the same key from another caller is a
        different request (422), so a guessed key never replays someone else's response."""
        key = dict(scope["headers"]).get(b"idempotency-key")
        if key is None or scope["method"] != "POST":
            await app(scope, receive, send)
            return
        request_id = scope.get("state", {}).get("request_id")
        text = key.decode("latin-1")
        if not KEY.match(text):
            await send_error(
                send,
                400,
                "Idempotency-Key must be 1-255 printable ASCII characters",
                code="INVALID_IDEMPOTENCY_KEY",
                request_id=request_id,
            )
            return
        body = await read_body(receive)
        replay = _replaying(body)
        if not is_mutation(body, self.max_tokens, self.limits):
            await app(scope, replay, send)  # queries are safe to repeat
            return
        fingerprint = hashlib.sha256(caller.encode() + b"\0" + body).hexdigest()
        claim, recorded = await idempotency.claim(self.store, app_id, text, fingerprint, self.ttl)
        if claim is None:
            await self._answer(send, recorded, fingerprint, request_id)
            return
        await self._run_once(scope, replay, send, app, claim)

    async def _answer(
        self, send: Send, recorded: idempotency.Recorded | None, fingerprint: str, request_id: str | None
    ) -> None:
        if recorded is None:
            # Claimed and released twice in a row by others: let the client try again.
            await send_error(
                send,
                409,
                "a request with this Idempotency-Key is still running",
                code="IDEMPOTENCY_KEY_IN_USE",
                request_id=request_id,
                headers={"retry-after": "1"},
            )
        elif recorded.fingerprint != fingerprint:
            await send_error(
                send,
                422,
                "this Idempotency-Key was used with a different request",
                code="IDEMPOTENCY_KEY_REUSED",
                request_id=request_id,
            )
        elif recorded.committed and recorded.finished and recorded.body is None:
            await send_error(
                send,
                409,
                "the request with this Idempotency-Key was applied, but its response was not kept; "
                "read the current state instead of sending it again",
                code="IDEMPOTENCY_KEY_APPLIED",
                request_id=request_id,
            )
        elif recorded.status is None or recorded.body is None:
            await send_error(
                send,
                409,
                "a request with this Idempotency-Key is still running",
                code="IDEMPOTENCY_KEY_IN_USE",
                request_id=request_id,
                headers={"retry-after": "1"},
            )
        else:
            headers = [
                (b"content-type", (recorded.content_type or "application/json").encode()),
                (b"content-length", str(len(recorded.body)).encode()),
                (b"idempotent-replayed", b"true"),
            ]
            await send({"type": "http.response.start", "status": recorded.status, "headers": headers})
            await send({"type": "http.response.body", "body": recorded.body})

    async def _run_once(
        self, scope: Scope, receive: Receive, send: Send, app: ASGIApp, claim: idempotency.Claim
    ) -> None:
        status = 500
        content_type = "application/json"
        chunks: list[bytes] = []

        async def recording_send(message: Message) -> None:
            nonlocal status, content_type
            if message["type"] == "http.response.start":
                status = message["status"]
                content_type = dict(message.get("headers", [])).get(b"content-type", b"").decode()
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        completed = False
        held = idempotency.hold(claim)
        try:
            await app(scope, receive, recording_send)
            body = b"".join(chunks)
            # A retryable failure is not recorded: a retry runs again unless a change committed.
            if status < 500 and not any(code in body for code in RETRYABLE_CODES):
                await idempotency.complete(self.store, claim, status, content_type, body)
                completed = True
        except PyMongoError:
            log.warning("could not record an idempotent response", exc_info=True)
        finally:
            idempotency.let_go(held)
            if not completed:
                try:
                    await idempotency.release(self.store, claim)
                except PyMongoError:
                    log.warning("could not release an idempotency key", exc_info=True)


def _replaying(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
