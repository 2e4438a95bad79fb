"""Metrics and request logs: what an operator relies on, and what must never show up."""

from __future__ import annotations

import itertools
import json
import logging
import re
import sys

import httpx
import pytest

from app.observability.logs import JsonFormatter
from tests.helpers import Gateway, Tenant

UPSERT = """
mutation Signup($input: UpsertUserInput!) {
  upsertUser(input: $input) { user { id } userErrors { code } }
}
"""


async def test_metrics_count_requests_latency_store_commands_and_errors(
    http: httpx.AsyncClient, gateway: Gateway, tenant: Tenant
) -> None:
    await gateway.data(UPSERT, {"input": {"externalUserId": "m-1"}}, token=tenant.app_token)
    await http.post("/graphql", json={"query": "{ user }"}, headers={"authorization": "Bearer nope"})
    text = (await http.get("/metrics")).text
    assert 'profile_gateway_requests_total{operation="mutation upsertUser",status="200"}' in text
    assert 'profile_gateway_request_seconds_count{operation="mutation upsertUser"}' in text
    assert 'profile_gateway_store_command_seconds_count{command="insert",outcome="ok"}' in text
    assert 'profile_gateway_errors_total{code="UNAUTHENTICATED"}' in text


def _operation_labels(metrics: str) -> set[str]:
    return set(re.findall(r'^profile_gateway_requests_total\{operation="([^"]*)"', metrics, re.MULTILINE))


async def test_combining_root_fields_cannot_grow_the_metrics_without_bound(
    http: httpx.AsyncClient, gateway: Gateway, tenant: Tenant
) -> None:
    """The attack: the metric label was the operation's type and its set of root fields, and
    the caller chooses which root fields one operation combines, so every subset named a new
    series of the counter and the latency histogram (2^n of them for n root fields), held in
    memory for good and sent on every scrape. Now several root fields are one label."""
    roots = ["__typename", "me { __typename }", "preferenceCategories { __typename }"]
    roots += ["attributeDefinitions { __typename }", "attributeSettings { __typename }"]
    roots += ["webhookEndpoints { __typename }"]
    before = _operation_labels((await http.get("/metrics")).text)
    combinations = [c for size in (2, 3) for c in itertools.combinations(roots, size)][:20]
    for combination in combinations:
        assert (await gateway.post("{ " + " ".join(combination) + " }", token=tenant.app_token)).status_code == 200
    added = _operation_labels((await http.get("/metrics")).text) - before
    assert added <= {"query (several)"}, added
    # A single root field keeps its own label, and the log line still names every root field.
    await gateway.post("{ attributeSettings { __typename } }", token=tenant.app_token)
    assert "query attributeSettings" in _operation_labels((await http.get("/metrics")).text)


async def test_root_fields_the_schema_does_not_have_are_not_labels(
    http: httpx.AsyncClient, gateway: Gateway, tenant: Tenant
) -> None:
    """The attack: an operation that fails validation was still labelled by its root fields, so
    any name a caller invented (`{ probe17 }`) made a new series; with only the public app id."""
    before = _operation_labels((await http.get("/metrics")).text)
    for number in range(20):
        answer = await gateway.post(f"{{ probe{number} }}", headers={"x-app-id": tenant.app_id})
        assert answer.status_code in (200, 400), answer.text
    added = _operation_labels((await http.get("/metrics")).text) - before
    assert added <= {"invalid"}, added


async def test_request_log_is_one_json_line_without_credentials_or_personal_data(
    gateway: Gateway, tenant: Tenant, caplog: pytest.LogCaptureFixture
) -> None:
    email = "secret.person@example.com"
    caplog.set_level(logging.INFO, logger="app.http")
    response = await gateway.post(
        UPSERT,
        {"input": {"externalUserId": "log-1", "emails": [email]}},
        token=tenant.app_token,
        headers={"x-request-id": "req-log-test-1"},
    )
    assert response.status_code == 200
    records = [record for record in caplog.records if record.name == "app.http"]
    line = JsonFormatter().format(records[-1])
    entry = json.loads(line)
    assert entry["msg"] == "request"
    assert entry["request_id"] == "req-log-test-1"
    assert entry["app_id"] == tenant.app_id
    assert entry["operation"] == "mutation upsertUser"
    assert entry["operation_name"] == "Signup"
    assert entry["status"] == 200
    assert entry["duration_ms"] > 0
    for secret in (tenant.app_token, tenant.key_secret, email, "log-1"):
        assert secret not in line


def test_logged_exceptions_keep_their_type_and_stack_but_not_their_message() -> None:
    email = "ada" + "@example.com"
    try:
        raise ValueError(f"duplicate key: {email}")
    except ValueError:
        record = logging.getLogger("app").makeRecord(
            "app", logging.ERROR, __file__, 1, "failed", (), exc_info=sys.exc_info()
        )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["error"] == "ValueError"
    assert "test_observability.py" in entry["stack"]
    assert email not in json.dumps(entry)


def test_uvicorn_lines_carry_their_message_once_without_terminal_colours() -> None:
    record = logging.getLogger("uvicorn.error").makeRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        "Started server process [%d]",
        (42,),
        None,
        extra={"color_message": "Started server process [\x1b[36m%d\x1b[0m]"},
    )
    entry = json.loads(JsonFormatter().format(record))
    assert entry["msg"] == "Started server process [42]"
    assert "color_message" not in entry
