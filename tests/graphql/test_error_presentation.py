"""What clients see of errors: timeouts are UNAVAILABLE, input values are never echoed."""

from __future__ import annotations

import json
from typing import Any

import pytest
from graphql import GraphQLError, parse
from pymongo.errors import ExecutionTimeout, NetworkTimeout, OperationFailure, PyMongoError

from app.graphql.extensions import present, without_input_values
from tests.helpers import Gateway, Tenant

ADD_CHANNEL = """mutation($by: UserRef!, $channel: ChannelInput!) {
  addChannel(by: $by, channel: $channel) { user { id } userErrors { code } } }"""
SECRET = "xoxb-1234567890-very-secret"


@pytest.mark.parametrize(
    "failure",
    [
        ExecutionTimeout("operation exceeded time limit", 50),
        OperationFailure("operation exceeded time limit", 50),
        OperationFailure("exceeded time limit", 262),
        NetworkTimeout("timed out"),
    ],
)
def test_a_store_timeout_on_a_read_is_unavailable(failure: PyMongoError) -> None:
    error = GraphQLError("boom", path=["users", "totalCount"], original_error=failure)
    presented = present(error, "req-12345678")
    assert presented.extensions == {"code": "UNAVAILABLE", "requestId": "req-12345678"}


@pytest.mark.parametrize(
    "channel",
    [
        {"slack": {"accessToken": SECRET, "userId": "U1", "bogus": 1}},
        {"slack": {"incomingWebhookUrl": f"https://hooks.slack.com/{SECRET}", "extra": True}},
        {"webPush": {"endpoint": "https://push.example.com/x", "p256dh": SECRET}},
        {"slack": {"accessToken": {"token": SECRET}, "userId": "U1"}},
    ],
)
async def test_coercion_errors_do_not_echo_secret_inputs(
    gateway: Gateway, tenant: Tenant, channel: dict[str, Any]
) -> None:
    response = await gateway.post(
        ADD_CHANNEL, {"by": {"externalUserId": "u"}, "channel": channel}, token=tenant.app_token
    )
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "channel" in body["errors"][0]["message"]  # the path is kept
    assert SECRET not in response.text


async def test_literal_values_are_not_echoed_either(gateway: Gateway, tenant: Tenant) -> None:
    query = (
        'mutation { addChannel(by: {externalUserId: "u"}, channel: {slack: {accessToken: {t: "%s"}}}) { user { id } } }'
    )
    response = await gateway.post(query % SECRET, token=tenant.app_token)
    assert response.json()["errors"]
    assert SECRET not in response.text


def test_messages_keep_the_path_and_reason() -> None:
    message = (
        "Variable '$channel' got invalid value {slack: {accessToken: 'xoxb'}} at 'channel.slack'; "
        "Field 'bogus' is not defined by type 'SlackChannelInput'."
    )
    assert without_input_values(message) == (
        "Variable '$channel' got an invalid value at 'channel.slack'; "
        "Field 'bogus' is not defined by type 'SlackChannelInput'."
    )


async def test_a_parse_error_does_not_repeat_a_string_of_the_document(gateway: Gateway, tenant: Tenant) -> None:
    """A syntax error names the token it found; a string literal there can be a secret."""
    query = 'mutation { addChannel(by: {externalUserId: "u"}, channel: {slack: {"' + SECRET + '"}}) { user { id } } }'
    body = (await gateway.post(query, token=tenant.app_token)).json()
    assert SECRET not in json.dumps(body)
    assert body["errors"][0]["message"].startswith("Syntax Error: Expected Name")


@pytest.mark.parametrize(
    ("document", "shown"),
    [
        ('{ users { "' + SECRET + '" } }', "Syntax Error: Expected Name, found String (value not shown)."),
        ('{ users { """' + SECRET + '""" } }', "Syntax Error: Expected Name, found BlockString (value not shown)."),
        ("{ users } xoxb", "Syntax Error: Unexpected Name (value not shown)."),
        # Punctuation and the end of the document are no one's secret, and tell where it broke.
        ("{ users(first: 1 }", "Syntax Error: Expected Name, found '}'."),
        ("{ users", "Syntax Error: Expected Name, found <EOF>."),
    ],
)
def test_a_syntax_error_names_the_kind_of_token_not_its_value(document: str, shown: str) -> None:
    with pytest.raises(GraphQLError) as raised:
        parse(document)
    assert without_input_values(raised.value.message) == shown
