"""updateInstallationCustomAttributes, and saveInstallation's customAttributes checked like a user's."""

from __future__ import annotations

import asyncio
from typing import Any

from app.store.client import Store
from tests.domain.test_history import history_of
from tests.helpers import Gateway, Tenant
from tests.identity_ops import SAVE, assert_forbidden, personalize, register, register_anonymous, session_headers

OPS = """
mutation($prid: String!, $ops: [AttributeOp!]!) {
  updateInstallationCustomAttributes(pushRegistrationId: $prid, ops: $ops) {
    installation { pushRegistrationId customAttributes { key type value } }
    sessionToken
    userErrors { code message field }
  }
}
"""
DEFINE = """
mutation($input: AttributeDefinitionInput!) { defineAttribute(input: $input) { userErrors { code } } }
"""
STRICT = "mutation { updateAttributeSettings(strict: true) { settings { strict } } }"
INCREMENT = [{"increment": {"key": "launches", "amount": "1"}}]


async def _ops(
    gateway: Gateway, prid: str, ops: list[dict[str, Any]], token: str | None = None, **kwargs: Any
) -> dict[str, Any]:
    data = await gateway.data(OPS, {"prid": prid, "ops": ops}, token=token, **kwargs)
    payload: dict[str, Any] = data["updateInstallationCustomAttributes"]
    return payload


def _values(payload: dict[str, Any]) -> dict[str, Any]:
    return {item["key"]: item["value"] for item in payload["installation"]["customAttributes"]}


def _codes(payload: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return [(error["code"], error["field"]) for error in payload["userErrors"]]


async def _stored(store: Store, tenant: Tenant, prid: str) -> dict[str, Any] | None:
    return await store.installations.find_one({"appId": tenant.app_id, "pushRegistrationId": prid})


async def test_all_operations_apply_to_an_installation(gateway: Gateway, tenant: Tenant) -> None:
    await register(
        gateway,
        tenant,
        "dev-1",
        customAttributes=[
            {"key": "theme", "value": {"string": "dark"}},
            {"key": "screens", "value": {"objects": [{"name": "home"}]}},
            {"key": "beta", "value": {"boolean": True}},
        ],
    )
    payload = await _ops(
        gateway,
        "dev-1",
        [
            {"set": {"key": "build", "value": {"number": "412"}}},
            {"setOnce": {"key": "theme", "value": {"string": "light"}}},
            {"increment": {"key": "launches", "amount": "0.1"}},
            {"append": {"key": "screens", "value": {"objects": [{"name": "cart"}]}}},
            {"remove": {"key": "missing", "value": {"objects": [{"name": "x"}]}}},
            {"unset": "beta"},
        ],
        token=tenant.app_token,
    )
    assert payload["userErrors"] == [] and payload["sessionToken"] is None
    assert _values(payload) == {
        "theme": "dark",
        "screens": [{"name": "home"}, {"name": "cart"}],
        "build": "412",
        "launches": "0.1",
    }


async def test_parallel_increments_on_an_installation_lose_nothing(gateway: Gateway, tenant: Tenant) -> None:
    await register(gateway, tenant, "dev-1")
    results = await asyncio.gather(*(_ops(gateway, "dev-1", INCREMENT, tenant.app_token) for _ in range(12)))
    assert all(result["userErrors"] == [] for result in results)
    final = await _ops(gateway, "dev-1", [{"increment": {"key": "launches", "amount": "0"}}], tenant.app_token)
    assert _values(final)["launches"] == "12"


async def test_a_bad_batch_stores_nothing(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    await register(gateway, tenant, "dev-1", customAttributes=[{"key": "theme", "value": {"string": "dark"}}])
    before = await _stored(store, tenant, "dev-1")
    cases: list[tuple[list[dict[str, Any]], tuple[str, list[str]]]] = [
        (
            [{"set": {"key": "a", "value": {"string": "x"}}}, {"unset": "a"}],
            ("INVALID_INPUT", ["ops", "1", "unset"]),
        ),
        (
            [{"increment": {"key": "n", "amount": "1"}}, {"increment": {"key": "theme", "amount": "1"}}],
            ("TYPE_MISMATCH", ["ops", "1", "increment", "key"]),
        ),
        (
            [{"set": {"key": "b", "value": {"string": "x"}}}, {"append": {"key": "theme", "value": {"objects": [{}]}}}],
            ("TYPE_MISMATCH", ["ops", "1", "append", "key"]),
        ),
        ([{"set": {"key": "ss_os", "value": {"string": "x"}}}], ("RESERVED_KEY", ["ops", "0", "set", "key"])),
    ]
    for ops, expected in cases:
        payload = await _ops(gateway, "dev-1", ops, tenant.app_token)
        assert payload["installation"] is None
        assert _codes(payload) == [expected], ops
    assert await _stored(store, tenant, "dev-1") == before


async def test_scopes(gateway: Gateway, tenant: Tenant, other_tenant: Tenant, admin_token: str) -> None:
    await register(gateway, tenant, "known-1")
    assert (await personalize(gateway, tenant, "known-1", {"externalUserId": "u-1"}))["userErrors"] == []
    _, session = await register_anonymous(gateway, tenant, "anon-1")
    await register_anonymous(gateway, tenant, "anon-2")

    # A user token reaches its own user's installations, a session token its own installation.
    own = await _ops(gateway, "known-1", INCREMENT, tenant.user_token("u-1"))
    assert own["userErrors"] == [] and _values(own) == {"launches": "1"}
    mine = await _ops(gateway, "anon-1", INCREMENT, headers=session_headers(session))
    assert mine["userErrors"] == [] and _values(mine) == {"launches": "1"}

    variables = {"ops": INCREMENT}
    refused: list[tuple[str, dict[str, Any]]] = [
        ("known-1", {"token": tenant.user_token("u-2")}),
        ("anon-1", {"token": tenant.user_token("u-1")}),
        ("known-1", {"headers": session_headers(session)}),
        ("anon-2", {"headers": session_headers(session)}),
        ("known-1", {"headers": {"x-app-id": tenant.app_id}}),
        ("known-1", {"token": admin_token}),
    ]
    for prid, kwargs in refused:
        assert_forbidden(await gateway.execute(OPS, {**variables, "prid": prid}, **kwargs))

    # Another app's installation does not exist for this app.
    elsewhere = await _ops(gateway, "known-1", INCREMENT, other_tenant.app_token)
    assert _codes(elsewhere) == [("NOT_FOUND", ["pushRegistrationId"])]
    unknown = await _ops(gateway, "nope", INCREMENT, tenant.app_token)
    assert _codes(unknown) == [("NOT_FOUND", ["pushRegistrationId"])]


async def test_definitions_and_strict_mode_hold_for_installations(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    await register(gateway, tenant, "dev-1")
    await gateway.data(DEFINE, {"input": {"name": "build", "type": "NUMBER"}}, token=tenant.app_token)
    wrong = [{"set": {"key": "build", "value": {"string": "412"}}}]
    assert _codes(await _ops(gateway, "dev-1", wrong, tenant.app_token)) == [
        ("TYPE_MISMATCH", ["ops", "0", "set", "value"])
    ]
    saved = await gateway.data(
        SAVE,
        {
            "input": {
                "pushRegistrationId": "dev-1",
                "platform": "ANDROID",
                "customAttributes": [{"key": "build", "value": {"string": "412"}}],
            }
        },
        token=tenant.app_token,
    )
    assert _codes(saved["saveInstallation"]) == [("TYPE_MISMATCH", ["input", "customAttributes", "0", "value"])]

    await gateway.data(STRICT, token=tenant.app_token)
    undefined = [{"set": {"key": "theme", "value": {"string": "dark"}}}]
    assert _codes(await _ops(gateway, "dev-1", undefined, tenant.app_token)) == [
        ("INVALID_KEY", ["ops", "0", "set", "key"])
    ]
    anonymous = await gateway.data(
        SAVE,
        {
            "input": {
                "pushRegistrationId": "dev-2",
                "platform": "IOS",
                "customAttributes": [{"key": "theme", "value": {"string": "dark"}}],
            }
        },
        headers={"x-app-id": tenant.app_id},
    )
    assert _codes(anonymous["saveInstallation"]) == [("INVALID_KEY", ["input", "customAttributes", "0", "key"])]
    assert await _stored(store, tenant, "dev-2") is None
    stored = await _stored(store, tenant, "dev-1")
    assert stored is not None and stored["attrs"] == {}


async def test_save_installation_checks_custom_attributes_like_a_user(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    await register(gateway, tenant, "dev-1", customAttributes=[{"key": "theme", "value": {"string": "dark"}}])
    before = await _stored(store, tenant, "dev-1")
    big = [{"text": "x" * 3_500} for _ in range(4)]  # under the 16 KiB of one value
    cases: list[tuple[list[dict[str, Any]], tuple[str, list[str]]]] = [
        ([{"key": "$where", "value": {"string": "x"}}], ("RESERVED_KEY", ["input", "customAttributes", "0", "key"])),
        ([{"key": "a.b", "value": {"string": "x"}}], ("RESERVED_KEY", ["input", "customAttributes", "0", "key"])),
        ([{"key": "9lives", "value": {"string": "x"}}], ("INVALID_KEY", ["input", "customAttributes", "0", "key"])),
        (
            [{"key": "a", "value": {"string": "x"}}, {"key": "a", "value": {"number": "1"}}],
            ("INVALID_INPUT", ["input", "customAttributes", "1", "key"]),
        ),
        (
            [{"key": "bio", "value": {"string": "x" * 5_000}}],
            ("LIMIT_EXCEEDED", ["input", "customAttributes", "0", "value"]),
        ),
        (
            [{"key": "n", "value": {"number": "NaN"}}],
            ("TYPE_MISMATCH", ["input", "customAttributes", "0", "value"]),
        ),
        (
            [{"key": f"k{index}", "value": {"boolean": True}} for index in range(201)],
            ("LIMIT_EXCEEDED", ["input", "customAttributes"]),
        ),
        (
            [{"key": f"big{index}", "value": {"objects": big}} for index in range(20)],
            ("LIMIT_EXCEEDED", ["input", "customAttributes"]),
        ),
    ]
    for attributes, expected in cases:
        data = await gateway.data(
            SAVE,
            {"input": {"pushRegistrationId": "dev-1", "platform": "ANDROID", "customAttributes": attributes}},
            token=tenant.app_token,
        )
        assert _codes(data["saveInstallation"]) == [expected], attributes[:1]
    assert await _stored(store, tenant, "dev-1") == before


async def test_an_applied_batch_is_a_profile_event_of_the_installation_user(gateway: Gateway, tenant: Tenant) -> None:
    await register(gateway, tenant, "dev-1")
    assert (await personalize(gateway, tenant, "dev-1", {"externalUserId": "u-1"}))["userErrors"] == []
    before = (await history_of(gateway, tenant, externalUserId="u-1"))["edges"]
    assert isinstance(before, list)

    refused: list[dict[str, Any]] = [{"set": {"key": "city", "value": {"string": "Berlin"}}}, {"unset": "city"}]
    assert _codes(await _ops(gateway, "dev-1", refused, tenant.user_token("u-1")))[0][0] == "INVALID_INPUT"
    assert (await history_of(gateway, tenant, externalUserId="u-1"))["edges"] == before

    ops: list[dict[str, Any]] = [{"set": {"key": "city", "value": {"string": "Berlin"}}}, *INCREMENT]
    assert (await _ops(gateway, "dev-1", ops, tenant.user_token("u-1")))["userErrors"] == []
    edges = (await history_of(gateway, tenant, externalUserId="u-1"))["edges"]
    assert isinstance(edges, list) and len(edges) == len(before) + 1
    event = edges[0]["node"]
    assert event["kind"] == "UPDATED"
    assert event["actor"] == {"scope": "user", "keyId": tenant.key_id, "subject": "u-1"}
    # Names only: the value "Berlin" is personal data and stays out of the history.
    assert event["details"] == {
        "installation": "dev-1",
        "customAttributes": ["city", "launches"],
        "operations": ["set", "increment"],
    }
    assert "Berlin" not in str(edges)
