"""Responses are compact UTF-8 JSON, whatever the text they carry."""

from __future__ import annotations

import json

import httpx

from app.http.graphql_view import GraphQLView
from tests.helpers import Gateway, Tenant, assert_no_errors

UPSERT = "mutation($input: UpsertUserInput!) { upsertUser(input: $input) { userErrors { code } } }"


async def test_text_beyond_ascii_is_sent_as_utf8_not_escapes(
    gateway: Gateway, http: httpx.AsyncClient, tenant: Tenant
) -> None:
    name = "Zoë 東京 🎉"
    await gateway.data(UPSERT, {"input": {"externalUserId": "enc-1", "givenName": name}}, token=tenant.app_token)
    response = await http.post(
        "/graphql",
        json={"query": '{ user(by: {externalUserId: "enc-1"}) { givenName } }'},
        headers={"authorization": f"Bearer {tenant.app_token}"},
    )
    body = response.json()
    assert_no_errors(body)
    assert body["data"]["user"]["givenName"] == name
    assert name.encode() in response.content  # not \\u escapes: fewer bytes
    assert int(response.headers["content-length"]) == len(response.content)


def test_what_the_fast_encoder_refuses_takes_the_standard_path() -> None:
    view = object.__new__(GraphQLView)  # the encoder uses nothing of the view's state
    data = {"data": {"n": 2**70, "s": "Zoë"}}  # orjson holds integers to 64 bits
    assert json.loads(view.encode_json(data)) == data
