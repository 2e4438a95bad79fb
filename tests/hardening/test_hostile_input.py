"""Hostile input, case by case: each one gets a clear refusal, never a 500 or a leak of internals,
and the app's stored documents are exactly as before (compared as a full dump)."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from app.store.client import Store
from tests.helpers import Gateway, Tenant

UPSERT = """mutation($input: UpsertUserInput!) {
  upsertUser(input: $input) { user { id } userErrors { code field } } }"""
UPDATE = """mutation($by: UserRef!, $patch: UserPatch!, $v: Int) {
  updateUser(by: $by, patch: $patch, expectedVersion: $v) {
    user { id } userErrors { code field } } }"""
OPS = """mutation($by: UserRef!, $ops: [AttributeOp!]!) {
  updateCustomAttributes(by: $by, ops: $ops) { user { id } userErrors { code field } } }"""
ADD_TAGS = """mutation($by: UserRef!, $tags: [String!]!) {
  addTags(by: $by, tags: $tags) { user { id } userErrors { code } } }"""
REMOVE_TAGS = """mutation($by: UserRef!, $tags: [String!]!) {
  removeTags(by: $by, tags: $tags) { user { id } userErrors { code } } }"""
DELETE = "mutation($by: UserRef!) { deleteUser(by: $by) { deletedUserId userErrors { code } } }"
DEFINE = """mutation($input: AttributeDefinitionInput!) {
  defineAttribute(input: $input) { definition { name } userErrors { code field } } }"""

VICTIM = {"externalUserId": "victim"}
MB = 1024 * 1024
LEAKS = ("Traceback", 'File "', "pymongo", "bson", "mongoeco", "/app/", "site-packages")


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth):
        value = {"a": value}
    return value


def gid(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def attr(key: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"input": {"externalUserId": "victim", "customAttributes": [{"key": key, "value": value}]}}


@dataclass(frozen=True)
class Case:
    query: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    raw: bytes | None = None  # sent as is instead of a JSON body
    content_type: str = "application/json"


CASES: dict[str, Case] = {
    # Operator, path and prototype injection through attribute keys.
    "operator key $where": Case(UPSERT, attr("$where", {"string": "1"})),
    "operator key $set in set op": Case(
        OPS, {"by": VICTIM, "ops": [{"set": {"key": "$set", "value": {"string": "x"}}}]}
    ),
    "dotted key": Case(UPSERT, attr("profile.admin", {"boolean": True})),
    "prototype key __proto__": Case(UPSERT, attr("__proto__", {"string": "x"})),
    "reserved prefix ss_": Case(UPSERT, attr("ss_internal", {"string": "x"})),
    "operator key in unset": Case(OPS, {"by": VICTIM, "ops": [{"unset": "$where"}]}),
    "operator key in object field": Case(UPSERT, attr("items", {"objects": [{"$gt": 1}]})),
    "dotted object field": Case(UPSERT, attr("items", {"objects": [{"a.b": 1}]})),
    "prototype object field": Case(UPSERT, attr("items", {"objects": [{"__proto__": {"admin": True}}]})),
    "deeply nested object": Case(UPSERT, attr("items", {"objects": [nested(200)]})),
    "list inside an object": Case(UPSERT, attr("items", {"objects": [{"a": [1, 2, 3]}]})),
    "huge list of objects": Case(UPSERT, attr("items", {"objects": [{"n": i} for i in range(10_000)]})),
    "operator key defined": Case(DEFINE, {"input": {"name": "$where", "type": "STRING"}}),
    # Sizes.
    "1 MB given name": Case(UPSERT, {"input": {"externalUserId": "victim", "givenName": "x" * MB}}),
    "1 MB attribute string": Case(UPSERT, attr("bio", {"string": "x" * MB})),
    "1 MB externalUserId": Case(UPSERT, {"input": {"externalUserId": "x" * MB}}),
    "1 MB tag": Case(ADD_TAGS, {"by": VICTIM, "tags": ["x" * MB]}),
    "huge tag list": Case(ADD_TAGS, {"by": VICTIM, "tags": [f"t{i}" for i in range(20_000)]}),
    "huge removal list": Case(REMOVE_TAGS, {"by": VICTIM, "tags": [f"t{i}" for i in range(20_000)]}),
    "huge email list": Case(
        UPSERT,
        {
            "input": {
                "externalUserId": "victim",
                "emails": [f"u{i}@example.com" for i in range(5_000)],
            }
        },
    ),
    # Identifiers.
    "cyrillic confusable in email domain": Case(UPSERT, {"input": {"emails": ["victim@ex\u0430mple.com"]}}),
    "greek confusable in email local part": Case(UPSERT, {"input": {"emails": ["vict\u03b9m@example.com"]}}),
    "right-to-left override in email": Case(UPSERT, {"input": {"emails": ["victim\u202e@example.com"]}}),
    "NUL byte in email": Case(UPSERT, {"input": {"emails": ["victim@example.com\u0000"]}}),
    "operator object as email ref": Case(DELETE, {"by": {"email": {"$ne": None}}}),
    "operator object as externalUserId": Case(UPSERT, {"input": {"externalUserId": {"$gt": ""}}}),
    "phone that is not E.164": Case(UPSERT, {"input": {"phones": ["-1"]}}),
    "malformed global id": Case(DELETE, {"by": {"id": "!!not-base64!!"}}),
    "global id of another type": Case(DELETE, {"by": {"id": gid("App:victim")}}),
    "global id with an operator": Case(DELETE, {"by": {"id": gid('User:{"$ne": null}')}}),
    # Numbers and dates.
    "number with huge exponent": Case(UPSERT, attr("ltv", {"number": "1e999999999"})),
    "number with 100 digits": Case(UPSERT, attr("ltv", {"number": "9" * 100})),
    "number NaN": Case(UPSERT, attr("ltv", {"number": "NaN"})),
    "number Infinity": Case(UPSERT, attr("ltv", {"number": "-Infinity"})),
    "increment by a huge amount": Case(OPS, {"by": VICTIM, "ops": [{"increment": {"key": "n", "amount": "1e999999"}}]}),
    "negative expected version": Case(UPDATE, {"by": VICTIM, "patch": {"givenName": "x"}, "v": -1}),
    "expected version beyond Int": Case(UPDATE, {"by": VICTIM, "patch": {"givenName": "x"}, "v": 2**53}),
    "impossible birthday": Case(UPDATE, {"by": VICTIM, "patch": {"birthday": "2024-13-45"}}),
    "birthday in year 0": Case(UPDATE, {"by": VICTIM, "patch": {"birthday": "0000-01-01"}}),
    "malformed datetime": Case(UPSERT, attr("seen", {"datetime": "yesterday"})),
    "two members of a oneOf": Case(UPSERT, attr("x", {"string": "a", "number": "1"})),
    # Bodies and content types.
    "invalid UTF-8 body": Case(
        raw=b'{"query": "mutation { deleteUser(by: {externalUserId: \\"\xff\xfe\\"}) { deletedUserId } }"}'
    ),
    "malformed JSON body": Case(raw=b'{"query": "mutation { deleteUser(by: {externalUserId: \\"victim\\"})'),
    "JSON that is not an object": Case(
        raw=b'"mutation { deleteUser(by: {externalUserId: \\"victim\\"}) { deletedUserId } }"'
    ),
    "batched operations": Case(
        raw=json.dumps(
            [{"query": 'mutation { deleteUser(by: {externalUserId: "victim"}) { deletedUserId } }'}]
        ).encode()
    ),
    "oversized body": Case(
        raw=b'{"query": "'
        + b" " * (3 * MB)
        + b'mutation { deleteUser(by: {externalUserId: \\"victim\\"}) { deletedUserId } }"}'
    ),
    "text/plain body": Case(
        raw=json.dumps({"query": 'mutation { deleteUser(by: {externalUserId: "victim"}) { deletedUserId } }'}).encode(),
        content_type="text/plain",
    ),
    "form body": Case(
        raw=b"query=mutation+%7B+deleteUser%28by%3A+%7BexternalUserId%3A+%22victim%22%7D%29+%7B+deletedUserId+%7D+%7D",
        content_type="application/x-www-form-urlencoded",
    ),
    "multipart body": Case(
        raw=b'--b\r\nContent-Disposition: form-data; name="operations"\r\n\r\n{}\r\n--b--\r\n',
        content_type="multipart/form-data; boundary=b",
    ),
}


async def dump(store: Store, app_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every document of the app, in a stable order."""
    names = ["users", "installations", "history", "sessions", "attribute_definitions", "app_keys"]
    result = {name: await store.db[name].find({"appId": app_id}).sort("_id", 1).to_list() for name in names}
    result["apps"] = await store.apps.find({"_id": app_id}).to_list()
    return result


@pytest.mark.parametrize("name", list(CASES))
async def test_hostile_input_is_refused_and_stores_nothing(
    name: str, http: httpx.AsyncClient, gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    seed = {"input": {"externalUserId": "victim", "emails": ["victim@example.com"], "tags": ["kept"]}}
    assert (await gateway.data(UPSERT, seed, token=tenant.app_token))["upsertUser"]["userErrors"] == []
    before = await dump(store, tenant.app_id)
    case = CASES[name]
    headers = {"authorization": f"Bearer {tenant.app_token}", "content-type": case.content_type}
    if case.raw is not None:
        response = await http.post("/graphql", content=case.raw, headers=headers)
    else:
        response = await http.post("/graphql", json={"query": case.query, "variables": case.variables}, headers=headers)

    assert response.status_code < 500, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    refused = response.status_code >= 400 or bool(body.get("errors")) or _user_errors(body)
    assert refused, f"accepted: {str(body)[:300]}"
    assert all(error.get("extensions", {}).get("code") != "INTERNAL_SERVER_ERROR" for error in body.get("errors", []))
    text = response.text
    assert not any(leak in text for leak in LEAKS), text[:500]
    assert len(text) < 20_000  # a refusal does not echo a megabyte back
    assert await dump(store, tenant.app_id) == before


def _user_errors(body: dict[str, Any]) -> bool:
    payloads = (body.get("data") or {}).values()
    return any(payload and payload.get("userErrors") for payload in payloads)
