"""GraphiQL in a real browser (Debian's Chromium, headless): the page loads only from the gateway,
runs a query with an app token, and shows the result."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
from collections.abc import AsyncIterator
from urllib.parse import quote, urlsplit

import pytest
import uvicorn
from starlette.applications import Starlette

from tests.helpers import Gateway, Tenant

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (apt-get install -y chromium)")


@pytest.fixture
async def served(app: Starlette) -> AsyncIterator[str]:
    """The session's gateway on a real loopback port (the browser cannot use the ASGI client)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    async with asyncio.timeout(10):
        while not server.started:  # noqa: ASYNC110 - uvicorn offers no event to wait on
            await asyncio.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task
    sock.close()


async def test_graphiql_runs_a_query_offline(served: str, gateway: Gateway, tenant: Tenant) -> None:
    from playwright.async_api import Route, async_playwright

    seed = """mutation {
  upsertUser(input: {externalUserId: "browser-1", givenName: "Ada"}) { __typename } }"""
    await gateway.data(seed, token=tenant.app_token)
    query = '{ user(by: {externalUserId: "browser-1"}) { givenName } }'
    headers = json.dumps({"Authorization": f"Bearer {tenant.app_token}"})
    url = f"{served}/graphql?q={quote(query)}&headers={quote(headers)}"
    elsewhere: list[str] = []

    async def only_the_gateway(route: Route) -> None:
        if urlsplit(route.request.url).netloc == urlsplit(served).netloc:
            await route.continue_()
        else:  # the explorer must work without internet access
            elsewhere.append(route.request.url)
            await route.abort()

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = await browser.new_page()
            await page.route("**/*", only_the_gateway)
            page_errors: list[str] = []
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            await page.goto(url)
            await page.locator(".graphiql-execute-button").click(timeout=15_000)
            result = page.locator(".result-window")
            await result.get_by_text('"givenName": "Ada"').wait_for(timeout=15_000)
            shown = await result.inner_text()
        finally:
            await browser.close()
    assert '"givenName": "Ada"' in shown
    assert elsewhere == []
    assert page_errors == []


async def test_graphiql_fetches_the_schema_once_headers_are_typed(served: str, tenant: Tenant) -> None:
    """Opened without a token, the docs explorer cannot load the schema; typing an Authorization
    header loads it (docs and autocomplete) without a manual re-fetch."""
    from playwright.async_api import async_playwright

    headers = json.dumps({"Authorization": f"Bearer {tenant.app_token}"})
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = await browser.new_page()
            page_errors: list[str] = []
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            await page.goto(f"{served}/graphql?q={quote('{ }')}")
            await page.locator('button[aria-label*="Documentation Explorer"]').click(timeout=15_000)
            explorer = page.locator(".graphiql-doc-explorer")
            await explorer.get_by_text("Error fetching schema").wait_for(timeout=15_000)

            await page.locator('.graphiql-editor-tools button[data-name="headers"]').click()
            await page.locator('section[aria-label="Headers"] .CodeMirror:visible').click()
            await page.keyboard.insert_text(headers)
            await explorer.locator(".graphiql-doc-explorer-root-type").first.wait_for(timeout=15_000)
            roots = await explorer.locator(".graphiql-doc-explorer-root-type").all_inner_texts()

            await page.locator(".graphiql-query-editor .CodeMirror").click()
            await page.keyboard.press("Control+A")
            await page.keyboard.type("{ use")
            hints = page.locator(".CodeMirror-hints")
            await hints.get_by_text("users", exact=True).wait_for(timeout=15_000)
        finally:
            await browser.close()
    assert roots == ["query", "mutation", "subscription"]
    assert page_errors == []
