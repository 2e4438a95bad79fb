"""Failed authentications per client address: each bad key id can cost a store look-up, so an
address that keeps failing is refused (429) before any look-up, whatever it sends.

Behind a proxy the address is the proxy's unless uvicorn trusts its forwarded headers.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.rate_limit import RateLimiter, Refusal, client_address, refuse

FAILURES_LIMITED = "too many failed authentications from this address"
ADDRESS_LIMITED = Refusal("auth-failures", FAILURES_LIMITED, 0).message  # a websocket's close reason


class AuthFailureLimit:
    def __init__(self, app: ASGIApp, limiter: RateLimiter | None) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        address = client_address(scope)
        if self.limiter is None or address is None:
            await self.app(scope, receive, send)
            return
        wait = self.limiter.blocked(address)
        if wait is not None:
            await refuse(send, scope.setdefault("state", {}), Refusal("auth-failures", FAILURES_LIMITED, wait))
            return
        limiter = self.limiter

        async def counting_send(message: Message) -> None:
            # Check before the work, take after it: only failures count.
            if message["type"] == "http.response.start" and message["status"] == 401:
                await limiter.acquire(address)
            await send(message)

        await self.app(scope, receive, counting_send)
