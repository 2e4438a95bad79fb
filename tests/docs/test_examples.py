"""Every GraphQL example in the docs runs as written, in order, against a fresh gateway.

A file's examples run after the README's tour (which they continue), with the credentials
the tour tells readers to mint: an admin token, an app token from the key `createApp`
returned, user tokens for a `sub`, and the `sessionToken` an answer showed.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from graphql import OperationDefinitionNode, parse
from pydantic import SecretStr

from app.auth import tokens
from app.config import Settings
from app.main import Runtime, create_app
from tests.docs.examples import ROOT, Example, doc_files, examples

WITH_EXAMPLES = [path for path in doc_files() if path.exists() and any(example.run for example in examples(path))]


@dataclass
class Reader:
    """What a reader holds after following the docs so far."""

    client: httpx.AsyncClient
    admin_token: str
    app_id: str | None = None
    key_id: str | None = None
    key_secret: str | None = None
    session_token: str | None = None
    seen: list[str] = field(default_factory=list)

    def headers(self, role: str) -> dict[str, str]:
        if role == "admin":
            return {"authorization": f"Bearer {self.admin_token}"}
        if role == "session":
            assert self.session_token, "no sessionToken was shown before this block"
            return {"x-session-token": self.session_token}
        assert self.app_id and self.key_id and self.key_secret, "no createApp ran before this block"
        if role == "anonymous":
            return {"x-app-id": self.app_id}
        claims = {"scope": "app"} if role == "app" else {"scope": "user", "sub": role.removeprefix("user:")}
        return {"authorization": f"Bearer {tokens.mint(self.key_secret, claims, key_id=self.key_id)}"}

    def remember(self, data: Any) -> None:
        """The app and key of the first createApp, and the latest session token shown."""
        for key, value in _walk(data):
            if key == "createApp" and self.app_id is None and value.get("key"):
                self.app_id, self.key_id, self.key_secret = (
                    value["app"]["id"],
                    value["key"]["id"],
                    value["key"]["secret"],
                )
            if key == "sessionToken" and isinstance(value, str):
                self.session_token = value


def _walk(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    yield key, value
    if isinstance(value, dict):
        for name, item in value.items():
            yield from _walk(item, name)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item, key)


def _codes(data: Any) -> set[str]:
    """Codes of every userErrors/failures entry in the answer."""
    return {
        entry["code"]
        for key, value in _walk(data)
        if key in ("userErrors", "failures") and isinstance(value, list)
        for entry in value
        if isinstance(entry, dict) and "code" in entry
    }


@pytest.fixture
async def reader(tmp_path: Path) -> AsyncIterator[Reader]:
    """A fresh gateway of its own (an empty embedded store, or a new database on MONGODB_URI)
    and the admin token `token admin` would mint."""
    settings = Settings(
        mongodb_uri=os.environ.get("MONGODB_URI"),
        database_name=f"profile_gateway_docs_{secrets.token_hex(4)}",
        data_dir=tmp_path,
        embedded_engine="memory",
        admin_secret=SecretStr(secrets.token_urlsafe(48)),
        master_key=SecretStr(Fernet.generate_key().decode()),
        auth_failure_limit_per_minute=0,
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as client:
            assert settings.admin_secret is not None
            yield Reader(client, tokens.mint(settings.admin_secret.get_secret_value(), {"scope": "admin"}))
        if settings.mongodb_uri is not None:
            runtime: Runtime = application.state.runtime
            await runtime.store.client.drop_database(settings.database_name)


async def _run(reader: Reader, example: Example) -> None:
    response = await reader.client.post("/graphql", json={"query": example.query}, headers=reader.headers(example.role))
    assert response.status_code == 200, f"{example.where}: HTTP {response.status_code} {response.text}"
    body = response.json()
    assert not body.get("errors"), f"{example.where}: {body['errors']}"
    codes = _codes(body["data"])
    assert codes == set(example.expect), (
        f"{example.where}: userErrors {codes}, expected {set(example.expect) or 'none'}"
    )
    reader.remember(body["data"])


@pytest.mark.parametrize("path", WITH_EXAMPLES, ids=[str(path.relative_to(ROOT)) for path in WITH_EXAMPLES])
async def test_the_examples_run_as_written_in_order(reader: Reader, path: Path) -> None:
    tour = [] if path.name == "README.md" and path.parent == ROOT else examples(ROOT / "README.md")
    for example in [*tour, *examples(path)]:
        if example.run:
            await _run(reader, example)


@pytest.mark.parametrize("path", doc_files(), ids=[str(path.relative_to(ROOT)) for path in doc_files()])
def test_every_block_is_marked_and_pastes_as_one_operation(path: Path) -> None:
    if not path.exists():
        pytest.skip(f"{path.relative_to(ROOT)} is not written yet")
    for example in examples(path):
        assert example.problem is None, f"{example.where}: {example.problem}"
        if example.run:
            operations = [
                node for node in parse(example.query).definitions if isinstance(node, OperationDefinitionNode)
            ]
            assert len(operations) == 1, f"{example.where}: {len(operations)} operations; GraphiQL runs one per paste"
