"""Rate limits: a token bucket per key (an app's backend, an app's end users, an address without
credentials, an address's failed authentications), in the store; and one per end user, in each
process's memory (app/http/local_buckets.py).

The buckets live in the store (app/store/rate_limits.py), so N gateway replicas enforce
one limit between them; each take is one round trip keyed by ``_id``. An empty bucket
seen in the store is also remembered in this process until a token is due: ``acquire``
and ``blocked`` answer from that memory without a round trip, so an app or an address
over its limit is refused before any store look-up here (on another replica, after its
first refusal there).

A limiter with ``lease`` > 1 takes several tokens at once when its own traffic for a key
is busy enough to spend them (app/http/rate_lease.py): then one round trip pays for up to
``lease`` requests.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import logging
import math
import time
from collections.abc import Callable
from typing import NamedTuple

from pymongo.errors import PyMongoError
from starlette.types import ASGIApp, Receive, Scope, Send

from app.auth.principal import Principal
from app.auth.principal import Scope as AuthScope
from app.http.errors import send_error
from app.http.local_buckets import LocalBuckets
from app.http.rate_lease import Leases
from app.store import rate_limits
from app.store.client import Store

log = logging.getLogger("app.http")

MAX_REMEMBERED = 100_000  # bounded memory: refusals already over are dropped beyond this


class RateLimiter:
    def __init__(
        self,
        store: Store,
        limit: str,
        rate_per_second: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        lease: int = 1,
    ) -> None:
        """``limit`` names the buckets in the store (``requests``, ``auth-failures``);
        ``lease``: tokens taken from the store at once (at most the burst)."""
        self.store = store
        self.limit = limit
        self.rate = rate_per_second
        self.burst = burst
        self.clock = clock
        self._blocked_until: dict[str, float] = {}
        most = min(lease, burst)
        self._leases = Leases(most, clock) if most > 1 else None
        self._taking: dict[str, asyncio.Event] = {}  # keys with a take in flight

    async def acquire(self, key: str) -> float | None:
        """Take one token: None when allowed, else the seconds until the next token."""
        if self._leases is not None:
            self._leases.count(key)
        while True:
            if self._leases is not None and self._leases.spend(key):
                return None
            wait = self.blocked(key)
            if wait is not None:
                # This process saw the bucket empty; no token is due before then, so an app (or
                # an address) over its limit is refused without a round trip.
                return wait
            taking = self._taking.get(key)
            if taking is None:
                return await self._take(key)
            # One take per key at a time in this process: concurrent requests spend what it
            # brings instead of each taking a lease of their own.
            await taking.wait()

    async def _take(self, key: str) -> float | None:
        done = self._taking[key] = asyncio.Event()
        try:
            count = self._leases.size(key) if self._leases is not None else 1
            took = await rate_limits.take(self.store, self.limit, key, self.rate, self.burst, count)
        except PyMongoError:
            # Fail open: the request itself needs the store and reports the outage.
            log.warning("rate limit unavailable: the store did not answer", extra={"limit": self.limit})
            return None
        finally:
            del self._taking[key]
            done.set()
        if took.granted > 1 and self._leases is not None:
            self._leases.keep(key, took.granted - 1)
        if took.tokens >= 1:
            return None
        wait = (1 - took.tokens) / self.rate
        self._remember(key, wait)
        return None if took.allowed else wait

    def blocked(self, key: str) -> float | None:
        """The seconds until a token when this process saw the bucket empty, else None; no round trip.

        For limits on outcomes (failed authentications): check before the work, take after it.
        """
        until = self._blocked_until.get(key)
        if until is None:
            return None
        wait = until - self.clock()
        if wait <= 0:
            del self._blocked_until[key]
            return None
        return wait

    def _remember(self, key: str, wait: float) -> None:
        now = self.clock()
        if key not in self._blocked_until and len(self._blocked_until) >= MAX_REMEMBERED:
            for old in [k for k, until in self._blocked_until.items() if until <= now]:
                del self._blocked_until[old]
            if len(self._blocked_until) >= MAX_REMEMBERED:
                del self._blocked_until[next(iter(self._blocked_until))]
        self._blocked_until[key] = now + wait

    @staticmethod
    def retry_after_header(seconds: float) -> str:
        return str(max(1, math.ceil(seconds)))


IPV6_LIMIT_PREFIX = 64  # the block one host or one site's subnet chooses its addresses in
IPV6_NETWORK_PREFIX = 48  # a site's usual allocation: 65,536 /64s, each a fresh address bucket


def client_address(scope: Scope) -> str | None:
    """The key of a per-address limit, from the ASGI ``client`` host (HTTP and websockets alike;
    behind a proxy, run uvicorn with ``--proxy-headers`` and ``--forwarded-allow-ips``)."""
    client = scope.get("client")
    return address_key(client[0]) if client and client[0] else None


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The client's IP address (an IPv4 client seen on a dual-stack socket, ``::ffff:a.b.c.d``,
    as that IPv4 address), or None for anything else (a Unix socket's name)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _ipv6_network(address: ipaddress.IPv6Address, prefix: int) -> str:
    return str(ipaddress.IPv6Network((int(address), prefix), strict=False))  # int(): no zone id


@functools.lru_cache(maxsize=4096)  # every request's address is keyed (AuthFailureLimit): parse each once
def address_key(host: str) -> str:
    """An IPv4 address as it is; an IPv6 address as its /64 network, since a host may pick any
    address of its /64 at will (privacy addresses, a routed prefix) and each would otherwise
    start a bucket of its own; anything else (a Unix socket's name) as given."""
    address = _ip(host)
    if address is None:
        return host
    return str(address) if isinstance(address, ipaddress.IPv4Address) else _ipv6_network(address, IPV6_LIMIT_PREFIX)


@functools.lru_cache(maxsize=4096)
def network_key(host: str) -> str | None:
    """The /48 network of an IPv6 client, which one site (or one hosting customer) holds whole:
    its 65,536 /64s would each start an address bucket of their own. None for an IPv4 client
    (its address is its key already; a /24 is often a carrier's shared pool) or anything else."""
    address = _ip(host)
    return _ipv6_network(address, IPV6_NETWORK_PREFIX) if isinstance(address, ipaddress.IPv6Address) else None


class AppBucket(NamedTuple):
    """The app bucket a request spends: which side of the app (``backend``, ``end-users`` or
    ``registrations``, a metric label) and its key in the store."""

    side: str
    key: str


def app_bucket(principal: Principal | None) -> AppBucket | None:
    """The app bucket a request spends: the app's own (its backend, app tokens), its end users'
    (user and session tokens), or its first registrations' (X-App-Id alone). Anyone holding the
    public app id can send the last kind from as many addresses as they have, so it spends
    neither the backend's budget nor that of the users already registered or signed in.
    None: no app (admin)."""
    if principal is None or principal.app_id is None:
        return None
    if principal.scope is AuthScope.APP:
        return AppBucket("backend", principal.app_id)
    side = "registrations" if principal.scope is AuthScope.ANONYMOUS else "end-users"
    return AppBucket(side, f"{principal.app_id}|{side}")


def end_user_bucket(principal: Principal | None) -> str | None:
    """One end user's own bucket: a user token's externalUserId, or a session token's anonymous
    user, within the app. None for app tokens, X-App-Id alone and admin. Kept in memory only, so
    the externalUserId is never written to the store as a key."""
    if principal is None or principal.app_id is None:
        return None
    if principal.scope is AuthScope.USER:
        return f"{principal.app_id}|user|{principal.external_user_id}"
    if principal.scope is AuthScope.SESSION:
        return f"{principal.app_id}|session|{principal.user_id}"
    return None


def anonymous_bucket(principal: Principal | None, scope: Scope, key_of: Callable[[str], str | None]) -> str | None:
    """A bucket a request with only X-App-Id also spends: its app's and its client's, keyed by
    ``key_of`` the client host (``address_key``: one address registering installations without
    end cannot drain the app's registrations bucket; ``network_key``: nor can one IPv6 site).
    None for any other caller, or when the key has nothing to say of the client."""
    if principal is None or principal.scope is not AuthScope.ANONYMOUS:
        return None
    client = scope.get("client")
    key = key_of(client[0]) if client and client[0] else None
    return None if key is None else f"{principal.app_id}|{key}"


USER_LIMITED = "too many requests from this user"
APP_LIMITED = "rate limit exceeded for this app"
ADDRESS_LIMITED = "too many requests without credentials from this address"
NETWORK_LIMITED = "too many requests without credentials from this network"


class Refusal(NamedTuple):
    """A request a limit refused: which limit (a metric label and a log field: ``user``,
    ``backend``, ``end-users``, ``registrations``, ``address``, ``network`` or
    ``auth-failures``), the reason the client reads, and the seconds until it may retry."""

    limit: str
    reason: str
    wait: float

    @property
    def message(self) -> str:
        """What the client reads, over HTTP and over a websocket alike."""
        return f"{self.reason}; retry later"


async def spend_request(
    principal: Principal | None, limiter: RateLimiter | None, end_users: LocalBuckets | None
) -> Refusal | None:
    """Spend one request of ``principal``, over HTTP or a websocket: from its end user's own
    bucket first (in memory, so a refused user spends nothing shared), then from its app's
    bucket. The refusal, or None when allowed."""
    if end_users is not None and (user := end_user_bucket(principal)) is not None:
        wait = end_users.acquire(user)
        if wait is not None:
            return Refusal("user", USER_LIMITED, wait)
    bucket = app_bucket(principal)
    if limiter is not None and bucket is not None:
        wait = await limiter.acquire(bucket.key)
        if wait is not None:
            return Refusal(bucket.side, APP_LIMITED, wait)
    return None


class AppRateLimit:
    """ASGI middleware: one token per request from the principal's app bucket (429 when none is
    left); before it, for a caller with only X-App-Id one from its address's bucket and, for an
    IPv6 client, one from its /48 network's, and for an end user one from that user's own bucket
    (so one user cannot spend the others' budget). Runs after authentication, which leaves the
    principal in the scope state."""

    def __init__(
        self,
        app: ASGIApp,
        limiter: RateLimiter | None,
        anonymous: RateLimiter | None = None,
        end_users: LocalBuckets | None = None,
        networks: RateLimiter | None = None,
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.end_users = end_users
        # The limits on requests with only X-App-Id, each with its key of the client host and
        # the limit and reason of its refusals: per address, then per IPv6 /48.
        self.anonymous_limits = [
            (bucket_limiter, key_of, limit, reason)
            for bucket_limiter, key_of, limit, reason in (
                (anonymous, address_key, "address", ADDRESS_LIMITED),
                (networks, network_key, "network", NETWORK_LIMITED),
            )
            if bucket_limiter is not None
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = scope.get("state", {})
        principal: Principal | None = state.get("principal")
        for bucket_limiter, key_of, limit, reason in self.anonymous_limits:
            if (bucket := anonymous_bucket(principal, scope, key_of)) is not None:
                wait = await bucket_limiter.acquire(bucket)
                if wait is not None:
                    await refuse(send, state, Refusal(limit, reason, wait))
                    return
        refusal = await spend_request(principal, self.limiter, self.end_users)
        if refusal is not None:
            await refuse(send, state, refusal)
            return
        await self.app(scope, receive, send)


async def refuse(send: Send, state: dict[str, object], refusal: Refusal) -> None:
    """HTTP 429 with ``Retry-After``; the limit is left in the request's state for its log line
    and metrics (app/http/observe.py)."""
    state["limited_by"] = refusal.limit
    request_id = state.get("request_id")
    await send_error(
        send,
        429,
        refusal.message,
        code="RATE_LIMITED",
        request_id=request_id if isinstance(request_id, str) else None,
        headers={"retry-after": RateLimiter.retry_after_header(refusal.wait)},
    )
