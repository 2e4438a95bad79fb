"""Denial of service from public or ordinary callers: each attack is refused within a bound, and an
ordinary query sent at the same time is not held up by it (one event loop serves both, so an
attack that blocked the loop would delay the probe by as long).

The bounds are generous (the test machine is shared); before these limits the same attacks
blocked the server for 6 to 37 seconds.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.config import Settings
from app.main import create_app
from tests.conftest import new_tenant
from tests.helpers import Gateway, Tenant

ATTACK_BOUND = 1.5  # seconds until the attack's refusal arrives
PROBE_DELAY_BOUND = 1.5  # seconds the concurrent probe may take
PROBE = "query Probe { users(first: 1) { totalCount } }"
BULK = """mutation($records: [UpsertUserInput!]!) {
  bulkUpsertUsers(records: $records) { status userErrors { code } } }"""
OPS = """mutation($by: UserRef!, $ops: [AttributeOp!]!) {
  updateCustomAttributes(by: $by, ops: $ops) { user { id } userErrors { code } } }"""
USERS_IN = """query($filter: UserFilter) { users(filter: $filter, first: 1) { totalCount } }"""
SAVE = """mutation($input: InstallationInput!) {
  saveInstallation(input: $input) { installation { id } userErrors { code } } }"""


def fan_out(levels: int, leaf: str = "__typename") -> str:
    """`fragment F0 { ...F1 ...F1 }` and so on: 2**levels spreads once expanded."""
    fragments = [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)]
    return "query { ...F0 }\n" + "\n".join([*fragments, f"fragment F{levels} on Query {{ {leaf} }}"])


@dataclass(frozen=True)
class Attack:
    body: bytes
    auth: str  # "app" or "anonymous"
    status: int | None = None  # the HTTP status when not 200
    code: str | None = None  # a code the refusal carries
    headers: tuple[tuple[str, str], ...] = ()
    refused: bool = True  # False: harmless once bounded, so it runs (quickly)


def payload(query: str, variables: dict[str, Any] | None = None) -> bytes:
    return json.dumps({"query": query, "variables": variables or {}}).encode()


def nested_json(depth: int) -> bytes:
    return (
        b'{"query": "query($f: UserFilter) { users(filter: $f) { totalCount } }", "variables": {"f": '
        + (b'{"a": ' * depth + b"1" + b"}" * depth)
        + b"}}"
    )


ATTACKS: dict[str, Attack] = {
    "fragment fan-out, X-App-Id only": Attack(payload(fan_out(20)), "anonymous", code="FORBIDDEN"),
    # Each fragment is measured once and collected once per selection set: it simply runs.
    "fragment fan-out, app token": Attack(payload(fan_out(20)), "app", refused=False),
    "fragment fan-out of aliases": Attack(payload(fan_out(20, "a: __typename")), "app"),
    "fragment fan-out of depth": Attack(payload(fan_out(20, "users { nodes { id } }")), "app"),
    "too many fragment definitions": Attack(
        payload("query { __typename }\n" + "\n".join(f"fragment G{i} on Query {{ __typename }}" for i in range(60))),
        "app",
        code="LIMIT_EXCEEDED",
    ),
    "idempotency key with a 1.8 MB query": Attack(
        payload("mutation { " + "__typename " * 180_000 + "}"),
        "app",
        status=400,
        code="LIMIT_EXCEEDED",  # one string that long
        headers=(("idempotency-key", "big-body-1"),),
    ),
    "idempotency key with a 1 MB query": Attack(
        payload("mutation { " + "__typename " * 95_000 + "}"), "app", headers=(("idempotency-key", "big-body-2"),)
    ),
    "JSON variables nested 10,000 deep": Attack(nested_json(10_000), "app", status=400, code="LIMIT_EXCEEDED"),
    "JSON variables nested 40 deep": Attack(nested_json(40), "app", status=400, code="LIMIT_EXCEEDED"),
    "a 5,000-digit integer": Attack(
        b'{"query": "query($n: Int) { users(first: $n) { totalCount } }", "variables": {"n": ' + b"9" * 5_000 + b"}}",
        "app",
        status=400,
        code="LIMIT_EXCEEDED",
    ),
    "100,000 empty records from X-App-Id": Attack(
        payload(BULK, {"records": [{} for _ in range(100_000)]}), "anonymous", status=400, code="LIMIT_EXCEEDED"
    ),
    "1,000 empty records from X-App-Id": Attack(
        payload(BULK, {"records": [{} for _ in range(1_000)]}), "anonymous", code="FORBIDDEN"
    ),
    "filter in with 100,000 values": Attack(
        payload(
            USERS_IN, {"filter": {"attributes": [{"key": "k", "in": [{"string": str(i)} for i in range(100_000)]}]}}
        ),
        "app",
        status=400,
        code="LIMIT_EXCEEDED",
    ),
    "40,000 attribute operations": Attack(
        payload(
            OPS,
            {
                "by": {"externalUserId": "x"},
                "ops": [{"increment": {"key": f"k{i}", "amount": "1"}} for i in range(40_000)],
            },
        ),
        "app",
        status=400,
        code="LIMIT_EXCEEDED",
    ),
    "lone surrogate from X-App-Id": Attack(
        payload(SAVE, {"input": {"pushRegistrationId": "\ud800", "platform": "IOS"}}),
        "anonymous",
        status=400,
        code="BAD_REQUEST",
    ),
}


async def _timed(coroutine: Any) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = await coroutine
    return response, time.perf_counter() - started


@pytest.mark.parametrize("name", list(ATTACKS))
async def test_attack_is_refused_quickly_and_does_not_delay_a_probe(
    name: str, http: httpx.AsyncClient, tenant: Tenant
) -> None:
    attack = ATTACKS[name]
    credentials = (
        {"authorization": f"Bearer {tenant.app_token}"} if attack.auth == "app" else {"x-app-id": tenant.app_id}
    )
    headers = {"content-type": "application/json", **credentials, **dict(attack.headers)}
    probe_headers = {"authorization": f"Bearer {tenant.app_token}"}

    async def probe() -> httpx.Response:
        await asyncio.sleep(0.05)  # sent while the attack is being handled
        return await http.post("/graphql", json={"query": PROBE}, headers=probe_headers)

    (response, attack_seconds), (probed, probe_seconds) = await asyncio.gather(
        _timed(http.post("/graphql", content=attack.body, headers=headers)), _timed(probe())
    )

    assert attack_seconds < ATTACK_BOUND, f"{name}: answered after {attack_seconds:.2f} s"
    assert probe_seconds < PROBE_DELAY_BOUND, f"{name}: probe took {probe_seconds:.2f} s"
    assert probed.status_code == 200 and probed.json()["data"]["users"]["totalCount"] == 0
    assert response.status_code == (attack.status or 200), response.text[:300]
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    codes = {error.get("extensions", {}).get("code") for error in body.get("errors") or []}
    assert bool(body.get("errors")) == attack.refused, str(body)[:300]
    assert "INTERNAL_SERVER_ERROR" not in codes
    if attack.code is not None:
        assert attack.code in codes, str(body)[:300]


async def test_an_ordinary_fragment_document_still_runs(gateway: Gateway, tenant: Tenant) -> None:
    query = """query { ...Page }
      fragment Page on Query { users(first: 2) { ...Count } }
      fragment Count on UserConnection { totalCount total: totalCount }"""
    assert await gateway.data(query, token=tenant.app_token) == {"users": {"totalCount": 0, "total": 0}}


async def test_several_operations_without_an_operation_name_are_a_request_error(
    gateway: Gateway, tenant: Tenant
) -> None:
    document = 'query A { __typename } mutation B { deleteUser(by: {externalUserId: "x"}) { deletedUserId } }'
    response = await gateway.post(document, token=tenant.app_token)
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "OPERATION_NAME_REQUIRED"
    named = await gateway.client.post(
        "/graphql",
        json={"query": document, "operationName": "A"},
        headers={"authorization": f"Bearer {tenant.app_token}"},
    )
    assert named.json() == {"data": {"__typename": "Query"}}


@pytest.fixture(scope="module")
async def batching_http(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[httpx.AsyncClient]:
    batching = settings.model_copy(update={"max_batch_operations": 5, "data_dir": tmp_path_factory.mktemp("batching")})
    application: Starlette = create_app(batching)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client:
            yield client


@pytest.mark.parametrize("item", [b"1", b"null", b'"query"', b"[]"])
async def test_a_batch_item_that_is_not_an_object_is_a_bad_request(
    item: bytes, batching_http: httpx.AsyncClient, admin_token: str
) -> None:
    tenant = await new_tenant(Gateway(batching_http), admin_token)
    response = await batching_http.post(
        "/graphql",
        content=b"[" + item + b"]",
        headers={"content-type": "application/json", "authorization": f"Bearer {tenant.app_token}"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
