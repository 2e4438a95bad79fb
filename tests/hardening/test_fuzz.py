"""Schema-driven fuzzing: schemathesis generates operations from the served schema (fixed seed,
bounded budget) and each is sent to the in-process gateway with an app token.

No answer may be a 500, an INTERNAL_SERVER_ERROR, or show internals. For a longer run
against a running gateway see CONTRIBUTING.md (fuzzing).
"""

from __future__ import annotations

import json
import os
import random
from typing import Any

import pytest
import schemathesis
from graphql import get_introspection_query
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.generation.case import Case

from tests.helpers import Gateway, Tenant

# Long: deselect locally with `-m "not slow"`; CI runs it (its pytest call selects everything).
pytestmark = pytest.mark.slow

# Operations per schema field; the whole run stays a few hundred operations in CI.
EXAMPLES_PER_OPERATION = int(os.environ.get("FUZZ_EXAMPLES_PER_OPERATION", "25"))
LEAKS = ("Traceback", 'File "', "pymongo", "bson", "mongoeco", "site-packages")


def generate(schema: Any, per_operation: int) -> list[Case[Any]]:
    cases: list[Case[Any]] = []
    for result in schema.get_all_operations():
        operation = result.ok()

        # derandomize: the same cases on every run (a fixed seed), so a failure reproduces.
        @settings(
            max_examples=per_operation,
            derandomize=True,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
            deadline=None,
        )
        @given(operation.as_strategy())
        def collect(case: Case[Any]) -> None:
            cases.append(case)

        collect()
    return cases


async def test_generated_operations_never_fail_the_server(gateway: Gateway, tenant: Tenant) -> None:
    introspection = await gateway.data(get_introspection_query(), token=tenant.app_token)
    cases = generate(schemathesis.graphql.from_dict(introspection), EXAMPLES_PER_OPERATION)
    assert len(cases) >= 200, len(cases)
    failures: list[str] = []
    for case in cases:
        query = str(case.body)  # schemathesis gives a GraphQL case its query text as the body
        response = await gateway.post(query, token=tenant.app_token)
        text = response.text
        codes = [error.get("extensions", {}).get("code") for error in _errors(response)]
        if response.status_code >= 500 or "INTERNAL_SERVER_ERROR" in codes or any(leak in text for leak in LEAKS):
            failures.append(f"{response.status_code} {text[:300]}\n{query}")
    assert failures == [], f"{len(failures)} of {len(cases)} failed; first:\n{failures[0]}"


def _errors(response: Any) -> list[dict[str, Any]]:
    try:
        body = response.json()
    except ValueError:
        return []
    return body.get("errors") or [] if isinstance(body, dict) else []


# Hostile request JSON: the shapes that used to become 500s (deep nesting, huge numbers, lone
# surrogates, non-object batch items), mixed at random into the variables of real operations.
HOSTILE_QUERIES = (
    "mutation($input: UpsertUserInput!) { upsertUser(input: $input) { userErrors { code } } }",
    "mutation($input: InstallationInput!) { saveInstallation(input: $input) { userErrors { code } } }",
    "query($filter: UserFilter, $n: Int) { users(filter: $filter, first: $n) { totalCount } }",
)
HOSTILE_BODIES = 150


def _hostile_value(rng: random.Random, depth: int = 0) -> bytes:
    choice = rng.randrange(9 if depth < 3 else 6)
    match choice:
        case 0:
            return b"9" * rng.choice((5, 101, 5_000))
        case 1:
            return rng.choice((b'"\\ud800"', b'"x\\udfffy"', b'"\\ud83d\\ude00"', b'"ok"'))
        case 2:
            return rng.choice((b"NaN", b"-Infinity", b"1e99999", b"-0", b"null", b"true"))
        case 3:
            deep = rng.choice((10, 40, 5_000))
            return b"[" * deep + b"1" + b"]" * deep
        case 4:
            return b"[" + b",".join(b"{}" for _ in range(rng.choice((3, 1_001, 20_000)))) + b"]"
        case 5:
            return b'"' + b"x" * rng.choice((10, 2_000_000 // 2)) + b'"'
        case _:
            fields = [
                b'"'
                + rng.choice((b"input", b"filter", b"a", b"externalUserId"))
                + b'": '
                + _hostile_value(rng, depth + 1)
                for _ in range(rng.randrange(1, 4))
            ]
            return b"{" + b", ".join(fields) + b"}"


def hostile_bodies(count: int, seed: int = 20_261_203) -> list[bytes]:
    rng = random.Random(seed)  # a fixed seed: a failure reproduces
    bodies = []
    for _ in range(count):
        query = json.dumps(rng.choice(HOSTILE_QUERIES)).encode()
        body = b'{"query": ' + query + b', "variables": ' + _hostile_value(rng, 2) + b"}"
        bodies.append(body if rng.random() < 0.9 else b"[" + _hostile_value(rng, 3) + b"]")
    return bodies


async def test_hostile_request_json_never_fails_the_server(gateway: Gateway, tenant: Tenant) -> None:
    failures: list[str] = []
    for body in hostile_bodies(HOSTILE_BODIES):
        for headers in ({"authorization": f"Bearer {tenant.app_token}"}, {"x-app-id": tenant.app_id}):
            response = await gateway.client.post(
                "/graphql", content=body, headers={**headers, "content-type": "application/json"}
            )
            codes = [error.get("extensions", {}).get("code") for error in _errors(response)]
            if response.status_code >= 500 or "INTERNAL_SERVER_ERROR" in codes:
                failures.append(f"{response.status_code} {response.text[:200]}\n{body[:300]!r}")
    assert failures == [], f"{len(failures)} failed; first:\n{failures[0]}"
