"""Registering persisted query texts is budgeted per app side, so holders of the public app id
cannot fill the store with them.

The attack: the app id ships in every copy of the mobile app. Any text that validates was kept
in the store for a week after its last look-up, up to 20,000 characters each, for as many
distinct texts as a caller could send (a counter in an alias is enough to make one). Now an
app's end users (user and session tokens, X-App-Id alone) and its backend each register at most
``PERSISTED_QUERIES_REGISTRATIONS_PER_HOUR`` texts; beyond it the operation runs and its text is
not kept. A client that sends the text with every hash no longer writes it again each time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.config import Settings
from app.graphql.persisted import sha256_hex
from app.main import create_app
from tests.commands import CommandLog
from tests.conftest import new_tenant
from tests.helpers import Gateway, Tenant, error_codes

BUDGET = 3  # registrations per app side; none comes back during a test


@pytest.fixture(scope="module")
def commands() -> CommandLog:
    return CommandLog()


@pytest.fixture(scope="module")
async def budgeted(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory, commands: CommandLog
) -> AsyncIterator[Starlette]:
    # The request limits off: every bucket the store is asked for is then a registration's.
    update = {
        "data_dir": tmp_path_factory.mktemp("apq-budget"),
        "persisted_queries_registrations_per_hour": BUDGET,
        "rate_limit_per_second": 0,
        "anonymous_limit_per_minute": 0,
    }
    application = create_app(settings.model_copy(update=update), listeners=[commands])
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(budgeted: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=budgeted)
    async with httpx.AsyncClient(transport=transport, base_url="https://gateway.test") as http:
        yield http


def _text(label: str) -> str:
    return f"query Probe_{label} {{ __typename }}"


async def _send(client: httpx.AsyncClient, headers: dict[str, str], text: str, *, with_text: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256_hex(text)}}}
    if with_text:
        body["query"] = text
    response = await client.post("/graphql", json=body, headers=headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def _kept(client: httpx.AsyncClient, headers: dict[str, str], texts: list[str]) -> int:
    """How many of ``texts`` run by hash alone."""
    answers = [await _send(client, headers, text, with_text=False) for text in texts]
    missing = [answer for answer in answers if error_codes(answer) == ["PERSISTED_QUERY_NOT_FOUND"]]
    return len(answers) - len(missing)


async def test_holders_of_the_public_app_id_register_only_their_budget(
    client: httpx.AsyncClient, admin_token: str
) -> None:
    tenant = await new_tenant(Gateway(client), admin_token)
    public = {"x-app-id": tenant.app_id}
    texts = [_text(f"flood_{number}") for number in range(12)]
    answers = await asyncio.gather(*(_send(client, public, text, with_text=True) for text in texts))
    assert all(answer == {"data": {"__typename": "Query"}} for answer in answers)  # every one ran
    assert await _kept(client, public, texts) == BUDGET
    # The app's backend still has its own budget.
    backend = {"authorization": f"Bearer {tenant.app_token}"}
    assert (await _send(client, backend, _text("backend"), with_text=True))["data"] == {"__typename": "Query"}
    assert await _kept(client, backend, [_text("backend")]) == 1


async def test_budgets_are_per_app(client: httpx.AsyncClient, admin_token: str) -> None:
    first: Tenant = await new_tenant(Gateway(client), admin_token)
    second: Tenant = await new_tenant(Gateway(client), admin_token)
    for number in range(BUDGET + 1):
        await _send(client, {"x-app-id": first.app_id}, _text(f"first_{number}"), with_text=True)
    other = _text("second_app")
    await _send(client, {"x-app-id": second.app_id}, other, with_text=True)
    assert await _kept(client, {"x-app-id": second.app_id}, [other]) == 1


async def test_a_text_sent_with_every_hash_is_written_once(
    client: httpx.AsyncClient, admin_token: str, commands: CommandLog
) -> None:
    tenant = await new_tenant(Gateway(client), admin_token)
    backend = {"authorization": f"Bearer {tenant.app_token}"}
    text = _text("always_with_text")
    with commands.recording() as first:
        await _send(client, backend, text, with_text=True)
    with commands.recording() as again:
        for _ in range(3):
            await _send(client, backend, text, with_text=True)
    assert first["update persisted_queries"] == 1
    assert again["update persisted_queries"] == 0
    assert again["findAndModify rate_limits"] == 0  # nor spends the budget again
