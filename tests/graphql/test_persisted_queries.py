"""Automatic persisted queries (Apollo protocol) and the production allow-list."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from app.auth import tokens
from app.config import Settings
from app.graphql.persisted import PersistedQueries, PersistedQueryError, load_manifest, sha256_hex
from app.main import create_app
from tests.helpers import Gateway, Tenant, error_codes

QUERY = "query PersistedProbe { users(first: 1) { totalCount } }"


def persisted(digest: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


async def send(
    client: httpx.AsyncClient, token: str, *, query: str | None = None, extensions: dict[str, Any]
) -> httpx.Response:
    body: dict[str, Any] = {"extensions": extensions}
    if query is not None:
        body["query"] = query
    return await client.post("/graphql", json=body, headers={"authorization": f"Bearer {token}"})


async def test_a_hash_is_unknown_until_sent_with_its_text(gateway: Gateway, tenant: Tenant) -> None:
    query = QUERY.replace("Probe", f"Probe{secrets.token_hex(4)}")
    digest = sha256_hex(query)
    client, token = gateway.client, tenant.app_token
    miss = await send(client, token, extensions=persisted(digest))
    assert miss.status_code == 200
    assert miss.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    assert error_codes(miss.json()) == ["PERSISTED_QUERY_NOT_FOUND"]
    full = await send(client, token, query=query, extensions=persisted(digest))
    assert full.json() == {"data": {"users": {"totalCount": 0}}}
    hit = await send(client, token, extensions=persisted(digest.upper()))
    assert hit.json() == {"data": {"users": {"totalCount": 0}}}
    # Apollo clients send hashed queries as GET requests too.
    get = await client.get(
        "/graphql",
        params={"extensions": json.dumps(persisted(digest))},
        headers={"authorization": f"Bearer {token}"},
    )
    assert get.json() == {"data": {"users": {"totalCount": 0}}}


async def test_a_text_that_does_not_match_its_hash_is_refused(gateway: Gateway, tenant: Tenant) -> None:
    other = sha256_hex("query { __typename }")
    response = await send(gateway.client, tenant.app_token, query=QUERY, extensions=persisted(other))
    assert response.status_code == 400
    assert error_codes(response.json()) == ["PERSISTED_QUERY_HASH_MISMATCH"]
    # …and nothing was registered under the hash it claimed.
    miss = await send(gateway.client, tenant.app_token, extensions=persisted(other))
    assert error_codes(miss.json()) == ["PERSISTED_QUERY_NOT_FOUND"]


async def test_an_invalid_query_is_not_registered(gateway: Gateway, tenant: Tenant) -> None:
    invalid = "query { noSuchField }"
    digest = sha256_hex(invalid)
    await send(gateway.client, tenant.app_token, query=invalid, extensions=persisted(digest))
    miss = await send(gateway.client, tenant.app_token, extensions=persisted(digest))
    assert error_codes(miss.json()) == ["PERSISTED_QUERY_NOT_FOUND"]


async def test_a_malformed_persisted_query_extension_is_a_400(gateway: Gateway, tenant: Tenant) -> None:
    bad = {"persistedQuery": {"version": 2, "sha256Hash": sha256_hex(QUERY)}}
    response = await send(gateway.client, tenant.app_token, query=QUERY, extensions=bad)
    assert response.status_code == 400
    assert error_codes(response.json()) == ["PERSISTED_QUERY_INVALID"]


ALLOWED = "query Allowed { __typename }"
TYPO = "query Typo { usrs { id } }"
ARGUMENT_TYPO = "query ArgumentTypo { users(frist: 1) { totalCount } }"


@pytest.fixture(scope="module")
async def production(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A gateway as production runs it: suggestions off, only the manifest's operations."""
    directory = tmp_path_factory.mktemp("production")
    manifest = directory / "manifest.json"
    operations = [
        {"id": sha256_hex(body), "body": body, "name": "op", "type": "query"} for body in (ALLOWED, TYPO, ARGUMENT_TYPO)
    ]
    manifest.write_text(
        json.dumps({"format": "apollo-persisted-query-manifest", "version": 1, "operations": operations})
    )
    admin_secret = secrets.token_urlsafe(48)
    settings = Settings(
        environment="production",
        data_dir=Path(directory),
        embedded_engine="memory",
        admin_secret=SecretStr(admin_secret),
        master_key=SecretStr(Fernet.generate_key().decode()),
        persisted_queries_only=True,
        persisted_queries_manifest=manifest,
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://production.test") as client:
            yield client, tokens.mint(admin_secret, {"scope": "admin"})


async def test_production_runs_only_the_allow_list(
    production: tuple[httpx.AsyncClient, str],
) -> None:
    client, token = production
    by_hash = await send(client, token, extensions=persisted(sha256_hex(ALLOWED)))
    assert by_hash.json() == {"data": {"__typename": "Query"}}
    by_text = await client.post("/graphql", json={"query": ALLOWED}, headers={"authorization": f"Bearer {token}"})
    assert by_text.json() == {"data": {"__typename": "Query"}}
    other = "query Other { __typename }"
    refused = await client.post("/graphql", json={"query": other}, headers={"authorization": f"Bearer {token}"})
    assert refused.status_code == 400
    assert error_codes(refused.json()) == ["PERSISTED_QUERY_NOT_IN_LIST"]
    # Clients cannot register new operations in production.
    registering = await send(client, token, query=other, extensions=persisted(sha256_hex(other)))
    assert error_codes(registering.json()) == ["PERSISTED_QUERY_NOT_IN_LIST"]
    unknown = await send(client, token, extensions=persisted(sha256_hex(other)))
    assert error_codes(unknown.json()) == ["PERSISTED_QUERY_NOT_FOUND"]


async def test_production_error_messages_suggest_no_field_names(
    production: tuple[httpx.AsyncClient, str],
) -> None:
    client, token = production
    response = await send(client, token, extensions=persisted(sha256_hex(TYPO)))
    assert [error["message"] for error in response.json()["errors"]] == ["Cannot query field 'usrs' on type 'Query'."]
    # Argument names too (Strawberry's own switch covers only fields).
    response = await send(client, token, extensions=persisted(sha256_hex(ARGUMENT_TYPO)))
    assert [error["message"] for error in response.json()["errors"]] == [
        "Unknown argument 'frist' on field 'Query.users'."
    ]


async def test_the_registry_keeps_only_the_most_recent_queries_in_process() -> None:
    registry = PersistedQueries(enabled=True, cache_size=2)
    texts = [f"query Q{index} {{ __typename }}" for index in range(3)]
    for text in texts:
        await registry.register(sha256_hex(text), text)
    assert (await registry.resolve(None, persisted(sha256_hex(texts[2]))))[0] == texts[2]
    with pytest.raises(PersistedQueryError):
        await registry.resolve(None, persisted(sha256_hex(texts[0])))


def test_the_allow_list_needs_a_manifest_and_the_manifest_must_match_its_hashes(
    tmp_path: Path,
) -> None:
    with pytest.raises(ValueError, match="PERSISTED_QUERIES_MANIFEST"):
        Settings(mongodb_uri=None, persisted_queries_only=True)
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({sha256_hex("query A { __typename }"): "query B { __typename }"}))
    with pytest.raises(ValueError, match="not the sha256 of its body"):
        load_manifest(manifest)
