"""Plain-text refusals from the layers below (Strawberry's 400s, Starlette's 404/405) become the
same structured JSON error body as every other error."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.errors import STATUS_CODES, error_body

MAX_MESSAGE_LENGTH = 200
JSON_TYPES = (b"application/json", b"application/graphql-response+json")


class JsonErrorBodies:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        pending: Message | None = None
        text = b""

        async def rewriting_send(message: Message) -> None:
            nonlocal pending, text
            if message["type"] == "http.response.start":
                content_type = dict(message.get("headers", [])).get(b"content-type", b"")
                if message["status"] >= 400 and not content_type.startswith(JSON_TYPES):
                    pending = message  # hold it until the whole text is known
                    return
            elif pending is not None:
                text += message.get("body", b"")
                if message.get("more_body", False):
                    return
                await self._send_json(send, pending, text, scope)
                return
            await send(message)

        await self.app(scope, receive, rewriting_send)

    @staticmethod
    async def _send_json(send: Send, start: Message, text: bytes, scope: Scope) -> None:
        status: int = start["status"]
        message = text.decode("utf-8", "replace").strip()[:MAX_MESSAGE_LENGTH] or "request refused"
        body = error_body(message, STATUS_CODES.get(status, "ERROR"), scope.get("state", {}).get("request_id"))
        kept = [
            (name, value)
            for name, value in start.get("headers", [])
            if name not in (b"content-type", b"content-length")
        ]
        headers = [
            *kept,
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
