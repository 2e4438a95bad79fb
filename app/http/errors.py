"""Structured JSON error bodies for refusals at the edge, shaped like GraphQL errors."""

from __future__ import annotations

import json

from starlette.types import Send

# Codes for statuses the edge (or Starlette/Strawberry below it) answers by itself.
STATUS_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    408: "REQUEST_TIMEOUT",
    409: "CONFLICT",
    413: "PAYLOAD_TOO_LARGE",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "UNPROCESSABLE",
    429: "RATE_LIMITED",
    499: "CLIENT_CLOSED_REQUEST",
    500: "INTERNAL_SERVER_ERROR",
    503: "UNAVAILABLE",
}


def error_body(message: str, code: str, request_id: str | None) -> bytes:
    extensions = {"code": code} | ({"requestId": request_id} if request_id else {})
    return json.dumps({"errors": [{"message": message, "extensions": extensions}]}).encode()


async def send_error(
    send: Send,
    status: int,
    message: str,
    *,
    code: str | None = None,
    request_id: str | None = None,
    headers: dict[str, str] | None = None,
    content_type: str = "application/json",
) -> None:
    body = error_body(message, code or STATUS_CODES.get(status, "ERROR"), request_id)
    raw_headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        *((name.lower().encode(), value.encode()) for name, value in (headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw_headers})
    await send({"type": "http.response.body", "body": body})
