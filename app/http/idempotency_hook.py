"""ASGI middleware that hands requests of an authenticated app to the idempotency layer, with the
caller's identity within the app (the same key from another caller is another request)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from app.http.idempotency import Idempotency


class IdempotencyHook:
    def __init__(self, app: ASGIApp, idempotency: Idempotency | None) -> None:
        self.app = app
        self.idempotency = idempotency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        principal = scope.get("state", {}).get("principal")
        app_id = getattr(principal, "app_id", None)
        if self.idempotency is None or principal is None or app_id is None:
            await self.app(scope, receive, send)
            return
        caller = f"{principal.scope}:{principal.external_user_id or principal.user_id or ''}"
        await self.idempotency(scope, receive, send, app_id, caller, self.app)
