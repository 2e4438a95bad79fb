"""Test helpers: a GraphQL client over the in-process ASGI app, and per-role credentials."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import warnings
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from app.auth import tokens
from app.domain import clock
from app.domain.housekeeping import Housekeeping
from app.store import purges
from app.store import webhooks as webhook_store
from app.store.client import Store, connect


@dataclass
class Tenant:
    """A fresh app, with its first key and tokens of each role."""

    app_id: str
    key_id: str
    key_secret: str

    @property
    def app_token(self) -> str:
        return tokens.mint(self.key_secret, {"scope": "app"}, key_id=self.key_id)

    def user_token(self, external_user_id: str) -> str:
        return tokens.mint(self.key_secret, {"scope": "user", "sub": external_user_id}, key_id=self.key_id)


class Gateway:
    """Sends GraphQL operations the way clients do: POST /graphql with JSON."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def post(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        sent = dict(headers or {})
        if token is not None:
            sent["authorization"] = f"Bearer {token}"
        return await self.client.post("/graphql", json={"query": query, "variables": variables or {}}, headers=sent)

    async def execute(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The response body; the HTTP status must be 200."""
        response = await self.post(query, variables, token=token, headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    async def data(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """``data`` of a response that must have no top-level errors."""
        body = await self.execute(query, variables, token=token, headers=headers)
        assert_no_errors(body)
        data: dict[str, Any] = body["data"]
        return data


def assert_no_errors(body: dict[str, Any]) -> None:
    assert not body.get("errors"), f"unexpected GraphQL errors: {body['errors']}"


def error_codes(body: dict[str, Any]) -> list[str]:
    return [error.get("extensions", {}).get("code") for error in body.get("errors", [])]


async def purge_now(store: Store) -> None:
    """Finish every pending purge, as the dispatcher's housekeeping does in the background."""
    housekeeping = Housekeeping(store, retention_days=36_500)
    for _ in range(1_000):
        if not await purges.due(store, 1):
            return
        housekeeping.wake()
        await housekeeping.run(clock.now())
    raise AssertionError(f"purges never finished: {await purges.due(store, 5)}")


UNREACHABLE_URI = "mongodb://127.0.0.1:9/?directConnection=true"  # the discard port: nothing answers


def collect_dropped_sockets() -> None:
    """Collect the sockets of connection attempts to an unreachable store that the driver
    dropped without closing (its monitor's attempt, cancelled by ``close()``), so that their
    ResourceWarning is not raised in whichever test runs next."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


@contextlib.asynccontextmanager
async def unreachable_store(timeout_ms: int = 200) -> AsyncIterator[Store]:
    """A client of a store that never answers, closed on the way out and its dropped sockets
    collected: the cancelled monitor lets go of its socket when its task ends, some turns of the
    loop after ``close()`` (more under load), so the collection waits for the tasks this client
    started to end (a fixed five turns once missed one in a full run under load)."""
    existing = asyncio.all_tasks()
    store = connect(UNREACHABLE_URI, "db", timeout_ms=timeout_ms)
    try:
        yield store
    finally:
        await store.close()
        monitors = [task for task in asyncio.all_tasks() - existing if _is_driver_task(task)]
        if monitors:
            await asyncio.wait(monitors, timeout=5)
        for _ in range(5):
            await asyncio.sleep(0.05)
            collect_dropped_sockets()


def _is_driver_task(task: asyncio.Task[Any]) -> bool:
    """Whether the task runs the driver's code (a monitor of a client's servers)."""
    code = getattr(task.get_coro(), "cr_code", None)
    return code is not None and "pymongo" in code.co_filename


class FakeClock:
    """A monotonic clock a test moves by hand (``clock.now += seconds``)."""

    def __init__(self, start: float = 100.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def succeeded_deliveries(app_id: str, endpoint_id: str, occurred_at: Sequence[datetime]) -> list[dict[str, Any]]:
    """Delivered webhook deliveries of one endpoint, written straight to the store: ``seq`` 1, 2, ...,
    one per time of its event."""
    return [
        {
            "_id": webhook_store.delivery_id(endpoint_id, seq),
            "appId": app_id,
            "endpointId": endpoint_id,
            "seq": seq,
            "status": "SUCCEEDED",
            "attempts": 1,
            "occurredAt": when,
        }
        for seq, when in enumerate(occurred_at, start=1)
    ]
