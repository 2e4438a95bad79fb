"""Schema-driven fuzzing: schemathesis generates operations from the served schema (fixed seed,
bounded budget) and each is sent to the in-process gateway with an app token.

No answer may be a 500, an INTERNAL_SERVER_ERROR, or show internals. For a longer run
against a running gateway see CONTRIBUTING.md (fuzzing).
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis
from graphql import get_introspection_query
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.generation.case import Case

from tests.helpers import Gateway, Tenant

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
