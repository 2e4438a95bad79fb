"""The dispatcher: delivers change events from the outbox to webhook endpoints.

Each round, for every enabled endpoint:
1. fan out: the outbox entries after the endpoint's cursor (commit order) become delivery
   documents (``PENDING``), and the cursor moves on;
2. deliver: per user, the earliest delivery not yet done is attempted, and only when it
   succeeded (or finally failed) does the user's next one go, so a receiver sees each
   user's events in commit order. Different users go in parallel.

An attempt first leases its delivery (see app/store/webhooks.py), so several dispatchers
(the gateway's own and ``profile-gateway deliver`` processes) never send one delivery at
the same moment. A process that dies mid-attempt leaves a lease that runs out; the
delivery is then sent again with the same ``webhook-id`` (at least once).

Outcome: 2xx succeeds. Anything else (other statuses, timeouts, connection errors) is
retried after the next delay of the retry schedule with ±20 % jitter; a 429 or 503 with
``Retry-After`` waits at least that long. After the last retry the delivery is FAILED. An
endpoint is disabled after ``webhook_disable_after_failures`` failed attempts in a row.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import logging
import random
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import orjson
from standardwebhooks.webhooks import Webhook

from app.config import Settings
from app.crypto import SecretBox
from app.domain import clock, events
from app.domain.errors import DomainError
from app.domain.housekeeping import Housekeeping
from app.domain.webhook_urls import UrlPolicy
from app.domain.webhooks import signing_secrets
from app.store import outbox, webhooks
from app.store.client import Store

log = logging.getLogger("app.webhooks")
Document = dict[str, Any]
_FAN_OUT_BATCH = 500
_PENDING_WINDOW = 500
_PARALLEL_USERS = 16
_MAX_RETRY_AFTER = timedelta(hours=24)


def body_of(entry: Document) -> str:
    """The JSON body of an event (the same text is signed and sent)."""
    return orjson.dumps(events.public_document(entry)).decode()


def sign(secrets_: list[str], message_id: str, at: datetime, body: str) -> str:
    """``webhook-signature``: one ``v1,<signature>`` per signing secret, space-separated."""
    return " ".join(Webhook(secret).sign(message_id, at, body) for secret in secrets_)


def retry_after(response: httpx.Response, now: datetime) -> timedelta | None:
    value = response.headers.get("retry-after")
    if value is None:
        return None
    if value.strip().isdigit():
        return min(timedelta(seconds=int(value.strip())), _MAX_RETRY_AFTER)
    with contextlib.suppress(TypeError, ValueError):
        moment = email.utils.parsedate_to_datetime(value)
        return min(max(moment - now, timedelta(0)), _MAX_RETRY_AFTER)
    return None


@dataclass(slots=True)
class Dispatcher:
    store: Store
    box: SecretBox
    settings: Settings
    client: httpx.AsyncClient | None = None
    on_leads_erased: Callable[[int], None] | None = None  # told how many leads each erasing step erased
    owner: str = field(default_factory=lambda: f"dispatcher-{secrets.token_hex(6)}")
    housekeeping: Housekeeping = field(init=False)  # retention and pending purges, each round
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)
    _nudged: asyncio.Event = field(default_factory=asyncio.Event)  # by ``wake`` or ``stop``
    _endpoints_found: bool = True  # the busy rate until a round finds none

    def __post_init__(self) -> None:
        self.housekeeping = Housekeeping(
            self.store,
            self.settings.change_event_retention_days,
            lead_retention_days=self.settings.anonymous_lead_retention_days,
            on_leads_erased=self.on_leads_erased,
        )

    @property
    def policy(self) -> UrlPolicy:
        return UrlPolicy(self.settings.webhooks_to_http_localhost, self.settings.webhook_allowed_networks)

    async def run(self) -> None:
        """Deliver until ``stop``; a failing round is logged and the next one starts later."""
        async with httpx.AsyncClient(
            timeout=self.settings.webhook_timeout_seconds, follow_redirects=False, trust_env=False
        ) as client:
            self.client = client
            while not self._stopping.is_set():
                try:
                    await self.run_once()
                except Exception:
                    log.exception("webhook dispatch round failed")
                await self._pause()

    async def _pause(self) -> None:
        """Until the next round: the poll delay (the idle one when the last round found no
        enabled endpoint), or less when woken or stopped."""
        milliseconds = self.settings.webhook_poll_ms if self._endpoints_found else self.settings.webhook_idle_poll_ms
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._nudged.wait(), milliseconds / 1000)
        self._nudged.clear()

    def wake(self) -> None:
        """Start the next round now (an endpoint was created, enabled or asked to redeliver, or
        a purge was scheduled: the round looks for pending purges too)."""
        self.housekeeping.wake()
        self._nudged.set()

    def stop(self) -> None:
        self._stopping.set()
        self._nudged.set()

    async def run_once(self) -> int:
        """One round over every enabled endpoint; returns the number of attempts made."""
        try:
            await self.housekeeping.run(clock.now())
        except Exception:  # a purge that fails must not hold deliveries back
            log.exception("housekeeping round failed")
        enabled = await webhooks.enabled_endpoints(self.store)
        self._endpoints_found = bool(enabled)
        if not enabled:
            return 0
        # Three reads per round however many endpoints are idle: endpoints, counters, due work.
        handed_out = await outbox.numbers_handed_out(self.store, sorted({item["appId"] for item in enabled}))
        for endpoint in enabled:
            if handed_out.get(endpoint["appId"], 0) > int(endpoint.get("cursor", 0)):
                await self.fan_out(endpoint)
        due = await webhooks.endpoints_with_due_deliveries(self.store, [item["_id"] for item in enabled], clock.now())
        attempts = 0
        for endpoint in enabled:
            if endpoint["_id"] in due:
                attempts += await self.deliver(endpoint)
        return attempts

    async def fan_out(self, endpoint: Document) -> None:
        position = int(endpoint.get("cursor", 0))
        while True:
            page = await outbox.read(
                self.store, endpoint["appId"], position, _FAN_OUT_BATCH, datetime.now(UTC), endpoint.get("eventTypes")
            )
            now = clock.now()
            await webhooks.insert_deliveries(
                self.store,
                [
                    {
                        "_id": webhooks.delivery_id(endpoint["_id"], int(entry["seq"])),
                        "appId": endpoint["appId"],
                        "endpointId": endpoint["_id"],
                        "seq": entry["seq"],
                        "eventId": entry["id"],
                        "eventType": entry["type"],
                        "userId": entry["userId"],
                        "version": entry.get("version"),
                        "occurredAt": entry["occurredAt"],
                        "status": webhooks.PENDING,
                        "attempts": 0,
                        "lastAttemptAt": None,
                        "nextAttemptAt": now,
                        "responseStatus": None,
                        "leaseUntil": now,
                    }
                    for entry in page.entries
                ],
            )
            if page.last_seq > position:
                await webhooks.advance_cursor(self.store, endpoint["_id"], page.last_seq)
            position = page.last_seq
            if not page.more:
                return

    async def deliver(self, endpoint: Document) -> int:
        window = await webhooks.pending(self.store, endpoint["_id"], _PENDING_WINDOW)
        by_user: OrderedDict[str, list[Document]] = OrderedDict()
        for delivery in window:
            by_user.setdefault(delivery["userId"], []).append(delivery)
        for queue in by_user.values():
            # Commit order is outbox order once every change commits in one transaction with
            # its event; the user's version keeps writes outside one in order meanwhile.
            queue.sort(key=lambda item: (item.get("version") or 0, item["seq"]))
        # A user whose next delivery waits for its retry (or is leased elsewhere) waits whole:
        # no lease is tried for it.
        now = clock.now()
        ready = [queue for queue in by_user.values() if webhooks.is_due(queue[0], now)]
        # The events of those users in one read, rather than one read per attempt.
        seqs = [int(item["seq"]) for queue in ready for item in queue]
        entries = await outbox.get_many(self.store, endpoint["appId"], seqs)
        gate = asyncio.Semaphore(_PARALLEL_USERS)
        attempts = 0

        async def one_user(queue: list[Document]) -> None:
            nonlocal attempts
            async with gate:
                for delivery in queue:
                    attempts += 1
                    if not await self.attempt(endpoint, delivery, entries.get(int(delivery["seq"]))):
                        return  # not done: this user's later events wait for it

        await asyncio.gather(*(one_user(queue) for queue in ready))
        return attempts

    async def attempt(self, endpoint: Document, delivery: Document, entry: Document | None) -> bool:
        """Send one delivery if it is due and free; True when it is finished (either way)."""
        now = clock.now()
        lease_until = now + timedelta(seconds=self.settings.webhook_lease_seconds)
        leased = await webhooks.lease(self.store, delivery, now, lease_until, self.owner)
        if leased is None:
            return False
        if entry is None:  # past retention: nothing left to send
            await webhooks.finish_attempt(self.store, leased["_id"], self.owner, {"status": webhooks.FAILED})
            return True
        status, wait = await self.send(endpoint, entry, now)
        attempts = int(leased.get("attempts", 0)) + 1
        changes: Document = {"attempts": attempts, "lastAttemptAt": now, "responseStatus": status, "leaseUntil": now}
        succeeded = status is not None and 200 <= status < 300
        schedule = self.settings.webhook_retry_schedule
        if succeeded:
            changes |= {"status": webhooks.SUCCEEDED, "nextAttemptAt": None}
        elif attempts > len(schedule):
            changes |= {"status": webhooks.FAILED, "nextAttemptAt": None}
        else:
            delay = timedelta(seconds=schedule[attempts - 1] * random.uniform(0.8, 1.2))  # noqa: S311
            changes["nextAttemptAt"] = now + max(delay, wait or timedelta(0))
        await webhooks.finish_attempt(self.store, leased["_id"], self.owner, changes)
        if not succeeded:
            endpoint["consecutiveFailures"] = endpoint.get("consecutiveFailures", 0) + 1  # a later success resets
        if succeeded and not endpoint.get("consecutiveFailures"):
            pass  # nothing to reset: no endpoint write per success
        elif await webhooks.record_outcome(
            self.store, endpoint["_id"], succeeded, self.settings.webhook_disable_after_failures
        ):
            log.warning("webhook endpoint disabled after repeated failures", extra={"endpoint": endpoint["_id"]})
        return succeeded or changes.get("status") == webhooks.FAILED

    async def send(self, endpoint: Document, entry: Document, now: datetime) -> tuple[int | None, timedelta | None]:
        """POST the event; the response status (None: no response) and any Retry-After."""
        assert self.client is not None
        try:
            await self.policy.check(endpoint["url"])  # DNS may have changed since creation
        except DomainError:
            return None, None
        body = body_of(entry)
        headers = {
            "content-type": "application/json",
            "user-agent": "profile-gateway-webhooks",
            "webhook-id": entry["id"],
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": sign(signing_secrets(endpoint, self.box, now), entry["id"], now, body),
        }
        try:
            response = await self.client.post(endpoint["url"], content=body.encode(), headers=headers)
        except httpx.HTTPError:
            return None, None
        return response.status_code, retry_after(response, now)
