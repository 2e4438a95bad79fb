"""Security headers on every response."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# GraphiQL's page runs an inline bootstrap script and inline styles; everything else it
# needs is served from this origin (app/static), so nothing may load from elsewhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.headers = {
            "x-content-type-options": "nosniff",
            "x-frame-options": "DENY",
            "referrer-policy": "no-referrer",
            "cross-origin-opener-policy": "same-origin",
            "content-security-policy": CONTENT_SECURITY_POLICY,
            "permissions-policy": "camera=(), microphone=(), geolocation=()",
        }
        if hsts:  # only behind TLS, i.e. in production
            self.headers["strict-transport-security"] = "max-age=31536000; includeSubDomains"
        self.raw = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in self.headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # One pass over what the response set (ASGI header names are lower-case); a
                # header the response chose itself is kept.
                raw = list(message.get("headers", ()))
                chosen = {name for name, _ in raw}
                raw += [pair for pair in self.raw if pair[0] not in chosen]
                message["headers"] = raw
            await send(message)

        await self.app(scope, receive, send_with_headers)
