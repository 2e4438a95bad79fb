"""Rate limits: a token bucket per key (an app id; a client address for failed authentications), in this process.

Each replica keeps its own buckets, so with N replicas behind a balancer an app gets up to
N times the configured rate; set the rate per replica accordingly (README, "Running in
production"), or enforce a global limit at the balancer.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.types import ASGIApp, Receive, Scope, Send

from app.http.errors import send_error

MAX_BUCKETS = 100_000  # bounded memory: idle (full) buckets are dropped beyond this


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, rate_per_second: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate_per_second
        self.burst = burst
        self.clock = clock
        self.buckets: dict[str, _Bucket] = {}

    def acquire(self, key: str) -> float | None:
        """Take one token: None when allowed, else the seconds until the next token."""
        now = self.clock()
        bucket = self.buckets.get(key)
        if bucket is None:
            if len(self.buckets) >= MAX_BUCKETS:
                self._drop_full(now)
            bucket = self.buckets[key] = _Bucket(float(self.burst), now)
        self._refill(bucket, now)
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return None
        return (1 - bucket.tokens) / self.rate

    def blocked(self, key: str) -> float | None:
        """Like acquire, but takes nothing: the seconds until a token, or None when one is there.

        For limits on outcomes (failed authentications): check before the work, take after it.
        """
        bucket = self.buckets.get(key)
        if bucket is None:
            return None
        self._refill(bucket, self.clock())
        return None if bucket.tokens >= 1 else (1 - bucket.tokens) / self.rate

    def _refill(self, bucket: _Bucket, now: float) -> None:
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now

    @staticmethod
    def retry_after_header(seconds: float) -> str:
        return str(max(1, math.ceil(seconds)))

    def _drop_full(self, now: float) -> None:
        full = [
            key
            for key, bucket in self.buckets.items()
            if bucket.tokens + (now - bucket.updated) * self.rate >= self.burst
        ]
        for key in full:
            del self.buckets[key]


class AppRateLimit:
    """ASGI middleware: one token per request from the authenticated principal's app (429 when
    none is left). Runs after authentication, which leaves the principal in the scope state."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter | None) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope.get("state", {})
        app_id = getattr(state.get("principal"), "app_id", None)
        if self.limiter is not None and app_id is not None:
            wait = self.limiter.acquire(app_id)
            if wait is not None:
                await send_error(
                    send,
                    429,
                    "rate limit exceeded for this app; retry later",
                    code="RATE_LIMITED",
                    request_id=state.get("request_id"),
                    headers={"retry-after": RateLimiter.retry_after_header(wait)},
                )
                return
        await self.app(scope, receive, send)
