"""Lists of strings and numbers, nested objects, paths into objects, and the hostile inputs
they invite (deep nesting, huge lists, keys with '$', '.' or NUL, mixed lists)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from bson.decimal128 import Decimal128

from app.domain import definitions, limits
from app.domain.attributes import AttributeType
from app.store.client import Store
from app.store.ttl_cache import TtlCache
from tests.commands import CommandLog
from tests.helpers import Gateway, Tenant

UPSERT = """
mutation($input: UpsertUserInput!) {
  upsertUser(input: $input) {
    user { id version customAttributes { key type value } }
    userErrors { code message field }
  }
}
"""
OPS = """
mutation($by: UserRef!, $ops: [AttributeOp!]!) {
  updateCustomAttributes(by: $by, ops: $ops) {
    user { version customAttributes { key type value } }
    userErrors { code message field }
  }
}
"""
DEFINE = """
mutation($input: AttributeDefinitionInput!) {
  defineAttribute(input: $input) { definition { name type objectFields { name type } } userErrors { code field } }
}
"""
USERS = """
query($filter: UserFilter) {
  users(filter: $filter) { totalCount nodes { externalUserId } userErrors { code field } }
}
"""
BY = {"externalUserId": "u-1"}


async def _upsert(gateway: Gateway, tenant: Tenant, attributes: list[dict[str, Any]], uid: str = "u-1") -> Any:
    record = {"externalUserId": uid, "customAttributes": attributes}
    return (await gateway.data(UPSERT, {"input": record}, token=tenant.app_token))["upsertUser"]


async def _ops(gateway: Gateway, tenant: Tenant, ops: list[dict[str, Any]]) -> Any:
    return (await gateway.data(OPS, {"by": BY, "ops": ops}, token=tenant.app_token))["updateCustomAttributes"]


def _values(payload: dict[str, Any]) -> dict[str, Any]:
    return {item["key"]: item["value"] for item in payload["user"]["customAttributes"]}


def _types(payload: dict[str, Any]) -> dict[str, str]:
    return {item["key"]: item["type"] for item in payload["user"]["customAttributes"]}


def _errors(payload: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return [(error["code"], error["field"]) for error in payload["userErrors"]]


ADDRESS = {"city": "Zagreb", "geo": {"lat": 45.815, "lng": 15.98, "precise": True}, "zip": "10000", "floor": 2}


async def test_new_types_round_trip_with_their_types(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    payload = await _upsert(
        gateway,
        tenant,
        [
            {"key": "prop2", "value": {"strings": ["one", "two", "three"]}},
            {"key": "scores", "value": {"numbers": ["1", "2.50", "-0.1"]}},
            {"key": "address", "value": {"object": ADDRESS}},
        ],
    )
    assert payload["userErrors"] == []
    assert _types(payload) == {"address": "OBJECT", "prop2": "LIST_OF_STRINGS", "scores": "LIST_OF_NUMBERS"}
    assert _values(payload) == {
        "address": ADDRESS,  # numbers come back as numbers, at every depth
        "prop2": ["one", "two", "three"],
        "scores": ["1", "2.50", "-0.1"],  # decimal text, like NUMBER
    }
    stored = await store.users.find_one({"appId": tenant.app_id})
    assert stored is not None
    assert stored["attrs"]["scores"] == [Decimal128("1"), Decimal128("2.50"), Decimal128("-0.1")]
    assert stored["attrs"]["address"]["geo"]["lat"] == Decimal128("45.815")


async def test_append_and_remove_one_string_or_number(gateway: Gateway, tenant: Tenant) -> None:
    await _upsert(gateway, tenant, [])
    payload = await _ops(
        gateway,
        tenant,
        [
            {"append": {"key": "wishlist", "value": {"string": "iphone12"}}},  # a missing key: a one-item list
            {"append": {"key": "lucky", "value": {"number": "7"}}},
        ],
    )
    assert payload["userErrors"] == []
    assert _values(payload) == {"wishlist": ["iphone12"], "lucky": ["7"]}
    assert _types(payload) == {"wishlist": "LIST_OF_STRINGS", "lucky": "LIST_OF_NUMBERS"}
    payload = await _ops(
        gateway,
        tenant,
        [
            {"append": {"key": "wishlist", "value": {"strings": ["ipad", "iphone12"]}}},
            {"append": {"key": "lucky", "value": {"number": "13"}}},
        ],
    )
    assert _values(payload) == {"wishlist": ["iphone12", "ipad", "iphone12"], "lucky": ["7", "13"]}
    payload = await _ops(
        gateway,
        tenant,
        [
            {"remove": {"key": "wishlist", "value": {"string": "iphone12"}}},  # every equal item
            {"remove": {"key": "lucky", "value": {"number": "7.0"}}},  # equal as a number
        ],
    )
    assert payload["userErrors"] == []
    assert _values(payload) == {"wishlist": ["ipad"], "lucky": ["13"]}


async def test_append_of_another_type_is_refused_and_stores_nothing(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    await _upsert(gateway, tenant, [{"key": "wishlist", "value": {"strings": ["a"]}}])
    before = await store.users.find_one({"appId": tenant.app_id})
    payload = await _ops(gateway, tenant, [{"append": {"key": "wishlist", "value": {"number": "1"}}}])
    assert _errors(payload) == [("TYPE_MISMATCH", ["ops", "0", "append", "key"])]
    payload = await _ops(
        gateway, tenant, [{"append": {"key": "wishlist", "value": {"strings": ["x"] * limits.MAX_LIST_LENGTH}}}]
    )
    assert _errors(payload) == [("LIMIT_EXCEEDED", ["ops", "0", "append", "value"])]
    assert await store.users.find_one({"appId": tenant.app_id}) == before


async def test_set_and_unset_inside_an_object_by_path(gateway: Gateway, tenant: Tenant) -> None:
    await _upsert(gateway, tenant, [{"key": "address", "value": {"object": ADDRESS}}])
    payload = await _ops(
        gateway,
        tenant,
        [{"set": {"key": "address", "path": ["geo", "lat"], "value": {"number": "46.1"}}}],
    )
    assert payload["userErrors"] == []
    assert _values(payload)["address"]["geo"] == {"lat": 46.1, "lng": 15.98, "precise": True}
    payload = await _ops(
        gateway, tenant, [{"set": {"key": "address", "path": ["since"], "value": {"date": "2020-11-30"}}}]
    )
    assert _values(payload)["address"]["since"] == "2020-11-30"
    payload = await _ops(gateway, tenant, [{"unsetPath": {"key": "address", "path": ["geo", "precise"]}}])
    assert _values(payload)["address"]["geo"] == {"lat": 46.1, "lng": 15.98}
    # removing below a missing level changes nothing (no empty objects appear)
    payload = await _ops(gateway, tenant, [{"unsetPath": {"key": "address", "path": ["nowhere", "x"]}}])
    assert "nowhere" not in _values(payload)["address"]
    # a missing key and missing levels become objects
    payload = await _ops(
        gateway, tenant, [{"set": {"key": "prefs", "path": ["ui", "theme"], "value": {"string": "dark"}}}]
    )
    assert _values(payload)["prefs"] == {"ui": {"theme": "dark"}}
    assert _types(payload)["prefs"] == "OBJECT"


async def test_a_path_is_keys_never_a_dotted_string_or_an_operator(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    await _upsert(
        gateway, tenant, [{"key": "address", "value": {"object": ADDRESS}}, {"key": "s", "value": {"string": "x"}}]
    )
    before = await store.users.find_one({"appId": tenant.app_id})
    cases: list[tuple[dict[str, Any], tuple[str, list[str]]]] = [
        (
            {"set": {"key": "address", "path": ["geo.lat"], "value": {"number": "1"}}},
            ("RESERVED_KEY", ["ops", "0", "set", "path", "0"]),
        ),
        (
            {"set": {"key": "address", "path": ["$where"], "value": {"number": "1"}}},
            ("RESERVED_KEY", ["ops", "0", "set", "path", "0"]),
        ),
        (
            {"set": {"key": "address", "path": ["a\u0000"], "value": {"number": "1"}}},
            ("INVALID_KEY", ["ops", "0", "set", "path", "0"]),
        ),
        (
            {"set": {"key": "address", "path": [], "value": {"number": "1"}}},
            ("INVALID_INPUT", ["ops", "0", "set", "path"]),
        ),
        # through a string: the store's guard refuses it
        (
            {"set": {"key": "address", "path": ["city", "x"], "value": {"number": "1"}}},
            ("TYPE_MISMATCH", ["ops", "0", "set", "value"]),
        ),
        # a path into a STRING attribute
        ({"set": {"key": "s", "path": ["x"], "value": {"number": "1"}}}, ("TYPE_MISMATCH", ["ops", "0", "set", "key"])),
        # deeper than the depth limit
        (
            {"set": {"key": "address", "path": ["a", "b", "c", "d"], "value": {"object": {"e": {"f": 1}}}}},
            ("LIMIT_EXCEEDED", ["ops", "0", "set", "value"]),
        ),
        (
            {"setOnce": {"key": "address", "path": ["a"], "value": {"number": "1"}}},
            ("INVALID_INPUT", ["ops", "0", "setOnce", "path"]),
        ),
    ]
    for op, expected in cases:
        payload = await _ops(gateway, tenant, [op])
        assert payload["user"] is None, op
        assert _errors(payload) == [expected], op
    assert await store.users.find_one({"appId": tenant.app_id}) == before


async def test_a_path_set_keeps_the_object_within_its_key_limit(gateway: Gateway, tenant: Tenant) -> None:
    full = {f"k{index}": index for index in range(limits.MAX_OBJECT_FIELDS)}
    await _upsert(gateway, tenant, [{"key": "o", "value": {"object": full}}])
    payload = await _ops(gateway, tenant, [{"set": {"key": "o", "path": ["k0"], "value": {"number": "5"}}}])
    assert payload["userErrors"] == []  # replacing a key adds none
    payload = await _ops(gateway, tenant, [{"set": {"key": "o", "path": ["extra"], "value": {"number": "5"}}}])
    assert _errors(payload) == [("LIMIT_EXCEEDED", ["ops", "0", "set", "value"])]


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": 1}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


@pytest.mark.parametrize(
    ("value", "code", "suffix"),
    [
        ({"object": _nested(limits.MAX_OBJECT_DEPTH + 1)}, "LIMIT_EXCEEDED", ["a", "a", "a", "a", "a"]),
        ({"object": {"$where": 1}}, "RESERVED_KEY", ["$where"]),
        ({"object": {"a": {"b.c": 1}}}, "RESERVED_KEY", ["a", "b.c"]),
        ({"object": {"a": {"ss_x": 1}}}, "RESERVED_KEY", ["a", "ss_x"]),
        ({"object": {"a\u0000b": 1}}, "INVALID_KEY", ["a\u0000b"]),
        ({"object": {"a\n": 1}}, "INVALID_KEY", ["a\n"]),
        ({"object": {"a": "x\u0000y"}}, "INVALID_INPUT", ["a"]),
        ({"strings": ["ok", "x\u0000"]}, "INVALID_INPUT", ["1"]),
        ({"object": {"tags": ["a", 1, True]}}, "TYPE_MISMATCH", ["tags"]),
        ({"object": {"n": 10**40}}, "LIMIT_EXCEEDED", ["n"]),
        ({"number": "1E+6001"}, "LIMIT_EXCEEDED", []),
        ({"number": "9.999999999999999999999999999999999E+6144"}, "LIMIT_EXCEEDED", []),
        ({"number": "1" * 5_000}, "LIMIT_EXCEEDED", []),
        ({"strings": ["x"] * (limits.MAX_LIST_LENGTH + 1)}, "LIMIT_EXCEEDED", []),
        ({"object": {"l": [{"a": i} for i in range(limits.MAX_LIST_LENGTH + 1)]}}, "LIMIT_EXCEEDED", ["l"]),
        ({"object": {f"k{i}": i for i in range(limits.MAX_OBJECT_FIELDS + 1)}}, "LIMIT_EXCEEDED", []),
        # within every per-object limit, too many values in all
        (
            {"object": {f"k{i}": {f"j{j}": j for j in range(40)} for i in range(40)}},
            "LIMIT_EXCEEDED",
            ["k24"],
        ),
        ({"object": {"text": ["x" * 4_000] * 5}}, "LIMIT_EXCEEDED", []),  # the stored size
    ],
)
async def test_hostile_values_are_refused_and_store_nothing(
    gateway: Gateway, tenant: Tenant, store: Store, value: dict[str, Any], code: str, suffix: list[str]
) -> None:
    payload = await _upsert(gateway, tenant, [{"key": "k", "value": value}])
    assert _errors(payload) == [(code, ["input", "customAttributes", "0", "value", *suffix])]
    assert await store.users.count_documents({"appId": tenant.app_id}) == 0


@pytest.mark.parametrize("value", [{"object": _nested(2_000)}, {"numbers": ["1"] * 100_000}])
async def test_values_past_the_request_json_limits_are_refused_before_coercion(
    gateway: Gateway, tenant: Tenant, store: Store, value: dict[str, Any]
) -> None:
    # Nesting and list sizes this far past the attribute limits never reach the schema: the
    # request's JSON limits refuse them first (HTTP 400), and nothing is stored.
    record = {"externalUserId": "u-1", "customAttributes": [{"key": "k", "value": value}]}
    response = await gateway.post(UPSERT, {"input": record}, token=tenant.app_token)
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "LIMIT_EXCEEDED"
    assert await store.users.count_documents({"appId": tenant.app_id}) == 0


async def test_definitions_type_object_fields_and_list_types(gateway: Gateway, tenant: Tenant) -> None:
    token = tenant.app_token
    for name, kind in (("wishlist", "LIST_OF_STRINGS"), ("scores", "LIST_OF_NUMBERS")):
        data = await gateway.data(DEFINE, {"input": {"name": name, "type": kind}}, token=token)
        assert data["defineAttribute"]["userErrors"] == []
    data = await gateway.data(
        DEFINE,
        {
            "input": {
                "name": "profile",
                "type": "OBJECT",
                "objectFields": [{"name": "born", "type": "DATE"}, {"name": "qty", "type": "NUMBER"}],
            }
        },
        token=token,
    )
    assert data["defineAttribute"]["userErrors"] == []
    payload = await _upsert(gateway, tenant, [{"key": "wishlist", "value": {"numbers": ["1"]}}])
    assert _errors(payload) == [("TYPE_MISMATCH", ["input", "customAttributes", "0", "value"])]
    payload = await _upsert(gateway, tenant, [{"key": "profile", "value": {"object": {"born": "soon"}}}])
    assert _errors(payload) == [("TYPE_MISMATCH", ["input", "customAttributes", "0", "value", "born"])]
    payload = await _upsert(
        gateway, tenant, [{"key": "profile", "value": {"object": {"born": "2020-11-30", "qty": "2"}}}]
    )
    assert payload["userErrors"] == []
    assert _values(payload) == {"profile": {"born": "2020-11-30", "qty": 2}}
    payload = await _ops(gateway, tenant, [{"append": {"key": "scores", "value": {"string": "x"}}}])
    assert _errors(payload) == [("TYPE_MISMATCH", ["ops", "0", "append", "value"])]


async def _filter(gateway: Gateway, tenant: Tenant, condition: dict[str, Any]) -> list[str]:
    data = await gateway.data(USERS, {"filter": {"attributes": [condition]}}, token=tenant.app_token)
    return sorted(node["externalUserId"] for node in data["users"]["nodes"])


async def test_filters_on_list_membership_and_paths(gateway: Gateway, tenant: Tenant) -> None:
    await _upsert(
        gateway,
        tenant,
        [
            {"key": "wishlist", "value": {"strings": ["iphone12", "ipad"]}},
            {"key": "scores", "value": {"numbers": ["1.5", "7"]}},
            {"key": "address", "value": {"object": ADDRESS}},
        ],
        uid="a",
    )
    await _upsert(
        gateway,
        tenant,
        [
            {"key": "wishlist", "value": {"strings": ["pixel"]}},
            {"key": "tag", "value": {"string": "iphone12"}},  # a string, not a list holding it
            {"key": "address", "value": {"object": {"city": "Split", "floor": 5, "tags": ["sea"]}}},
        ],
        uid="b",
    )
    assert await _filter(gateway, tenant, {"key": "wishlist", "contains": {"string": "iphone12"}}) == ["a"]
    assert await _filter(gateway, tenant, {"key": "tag", "contains": {"string": "iphone12"}}) == []
    assert await _filter(gateway, tenant, {"key": "scores", "contains": {"number": "7.00"}}) == ["a"]
    assert await _filter(gateway, tenant, {"key": "address", "path": ["city"], "eq": {"string": "Split"}}) == ["b"]
    assert await _filter(gateway, tenant, {"key": "address", "path": ["floor"], "gte": {"number": "2"}}) == [
        "a",
        "b",
    ]
    assert await _filter(gateway, tenant, {"key": "address", "path": ["geo", "precise"], "eq": {"boolean": True}}) == [
        "a"
    ]
    assert await _filter(gateway, tenant, {"key": "address", "path": ["tags"], "contains": {"string": "sea"}}) == ["b"]


async def test_filter_paths_and_lists_are_checked(gateway: Gateway, tenant: Tenant) -> None:
    base = ["filter", "attributes", "0"]
    cases = [
        ({"key": "address", "path": ["geo.lat"], "eq": {"number": "1"}}, ("RESERVED_KEY", [*base, "path", "0"])),
        ({"key": "address", "path": ["$gt"], "eq": {"number": "1"}}, ("RESERVED_KEY", [*base, "path", "0"])),
        ({"key": "address\n", "eq": {"number": "1"}}, ("INVALID_KEY", [*base, "key"])),
        ({"key": "wishlist", "contains": {"object": {"a": 1}}}, ("TYPE_MISMATCH", [*base, "contains"])),
        ({"key": "wishlist", "eq": {"strings": ["a"]}}, ("TYPE_MISMATCH", [*base, "eq"])),
    ]
    for condition, expected in cases:
        data = await gateway.data(USERS, {"filter": {"attributes": [condition]}}, token=tenant.app_token)
        assert [(error["code"], error["field"]) for error in data["users"]["userErrors"]] == [expected], condition


async def test_an_increment_out_of_range_is_a_user_error(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    await _upsert(gateway, tenant, [{"key": "n", "value": {"number": "1E+6000"}}])
    before = await store.users.find_one({"appId": tenant.app_id})
    for amount in ("9.999999999999999999999999999999999E+6144", "1E-6176", "-1E+6001"):
        payload = await _ops(gateway, tenant, [{"increment": {"key": "n", "amount": amount}}])
        assert _errors(payload) == [("LIMIT_EXCEEDED", ["ops", "0", "increment", "amount"])], amount
    assert await store.users.find_one({"appId": tenant.app_id}) == before
    # the largest accepted amounts add up without overflowing the store's decimals
    payload = await _ops(gateway, tenant, [{"increment": {"key": "n", "amount": "9" * 34 + "E+5967"}}])
    assert payload["userErrors"] == []


async def test_too_many_operations_are_refused_before_the_store_is_read(
    gateway: Gateway, tenant: Tenant, command_log: CommandLog
) -> None:
    await _upsert(gateway, tenant, [])
    ops = [{"set": {"key": f"k{index}", "value": {"string": "x"}}} for index in range(1_000)]
    with command_log.recording() as commands:
        payload = await _ops(gateway, tenant, ops)
    assert _errors(payload) == [("LIMIT_EXCEEDED", ["ops"])]
    # only the caller's credential is looked up; neither the user nor the definitions
    assert not [name for name in commands if "users" in name or "attribute_definitions" in name], commands


async def test_one_object_appends_to_a_list_of_objects(gateway: Gateway, tenant: Tenant) -> None:
    await _upsert(gateway, tenant, [{"key": "orders", "value": {"objects": [{"sku": "a", "qty": 1}]}}])
    payload = await _ops(gateway, tenant, [{"append": {"key": "orders", "value": {"object": {"sku": "b", "qty": 2}}}}])
    assert payload["userErrors"] == []
    assert _values(payload)["orders"] == [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 2}]
    payload = await _ops(gateway, tenant, [{"remove": {"key": "orders", "value": {"object": {"sku": "a", "qty": 1}}}}])
    assert _values(payload)["orders"] == [{"sku": "b", "qty": 2}]


async def test_a_date_inside_an_object_filters_as_a_date(gateway: Gateway, tenant: Tenant) -> None:
    await _upsert(gateway, tenant, [{"key": "profile", "value": {"object": {"name": "b"}}}])
    await _ops(gateway, tenant, [{"set": {"key": "profile", "path": ["since"], "value": {"date": "2020-11-30"}}}])
    since = {"key": "profile", "path": ["since"]}
    assert await _filter(gateway, tenant, {**since, "gte": {"date": "2020-01-01"}}) == ["u-1"]
    assert await _filter(gateway, tenant, {**since, "lt": {"date": "2020-11-30"}}) == []


async def test_concurrent_path_sets_lose_no_update(gateway: Gateway, tenant: Tenant) -> None:
    """Each path set is one atomic update built in the store, not a read-modify-write."""
    created = await _upsert(gateway, tenant, [{"key": "o", "value": {"object": {"start": 0}}}])
    results = await asyncio.gather(
        *(
            _ops(gateway, tenant, [{"set": {"key": "o", "path": ["slots", f"s{index}"], "value": {"number": "1"}}}])
            for index in range(12)
        )
    )
    assert all(result["userErrors"] == [] for result in results)
    final = await _ops(gateway, tenant, [{"set": {"key": "o", "path": ["done"], "value": {"boolean": True}}}])
    assert _values(final)["o"] == {"start": 0, "slots": {f"s{index}": 1 for index in range(12)}, "done": True}
    assert final["user"]["version"] == created["user"]["version"] + 12 + 1


async def test_the_definitions_are_read_once_per_process_and_delay(
    gateway: Gateway, tenant: Tenant, command_log: CommandLog
) -> None:
    """Every attribute write needs the app's definitions: a process reads them once (all of
    them, bounded by the per-app maximum) and keeps them for `app_key_cache_seconds`; a new
    definition made here is in effect at once."""
    token = tenant.app_token
    for name, kind in (("wishlist", "LIST_OF_STRINGS"), ("unused", "DATE")):
        data = await gateway.data(DEFINE, {"input": {"name": name, "type": kind}}, token=token)
        assert data["defineAttribute"]["userErrors"] == []
    wrong = [{"key": "wishlist", "value": {"strings": ["a"]}}, {"key": "scores", "value": {"strings": ["x"]}}]
    with command_log.capturing() as commands:
        payload = await _upsert(gateway, tenant, wrong)
    assert _errors(payload) == []  # scores has no definition yet
    looked_up = [command for command in commands if command.get("find") == "attribute_definitions"]
    assert [command.get("limit") for command in looked_up] == [definitions.MAX_DEFINITIONS_PER_APP]
    with command_log.capturing() as commands:
        await _upsert(gateway, tenant, wrong)
    assert not [command for command in commands if command.get("find") == "attribute_definitions"]
    data = await gateway.data(DEFINE, {"input": {"name": "scores", "type": "LIST_OF_NUMBERS"}}, token=token)
    assert data["defineAttribute"]["userErrors"] == []
    payload = await _upsert(gateway, tenant, wrong)
    assert _errors(payload) == [("TYPE_MISMATCH", ["input", "customAttributes", "1", "value"])]


async def test_a_definition_made_elsewhere_applies_here_once_the_delay_has_passed(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    replica = Store(client=store.client, db=store.db, embedded_workarounds=store.embedded_workarounds)
    replica.definitions_cache = TtlCache(0.5, 16)
    assert "level" not in (await definitions.load_rules(replica, tenant.app_id, ["level"])).definitions
    data = await gateway.data(DEFINE, {"input": {"name": "level", "type": "NUMBER"}}, token=tenant.app_token)
    assert data["defineAttribute"]["userErrors"] == []
    assert "level" not in (await definitions.load_rules(replica, tenant.app_id, ["level"])).definitions
    await asyncio.sleep(0.6)
    rules = await definitions.load_rules(replica, tenant.app_id, ["level"])
    assert rules.definitions["level"].type is AttributeType.NUMBER


async def test_without_the_cache_a_write_reads_one_definition_per_key_it_names(
    store: Store, tenant: Tenant, command_log: CommandLog
) -> None:
    uncached = Store(client=store.client, db=store.db, embedded_workarounds=store.embedded_workarounds)
    uncached.definitions_cache = TtlCache(0, 16)
    with command_log.capturing() as commands:
        await definitions.load_rules(uncached, tenant.app_id, ["b", "a", "b"])
    looked_up = [command for command in commands if command.get("find") == "attribute_definitions"]
    assert [command.get("limit") for command in looked_up] == [2]
