"""upsertUser, updateUser, deleteUser, tags, user(by:), node(id:) and me, through HTTP."""

from __future__ import annotations

from typing import Any

from app.store.client import Store
from tests.helpers import Gateway, Tenant, purge_now

FIELDS = """
id externalUserId type identified givenName surname middleName gender birthday signedUpAt
preferredLanguage timezone emails phones tags createdAt updatedAt version
customAttributes { key type value }
"""
UPSERT = f"""
mutation($input: UpsertUserInput!) {{
  upsertUser(input: $input) {{ user {{ {FIELDS} }} userErrors {{ code message field }} }}
}}
"""
UPDATE = f"""
mutation($by: UserRef!, $patch: UserPatch!, $expectedVersion: Int) {{
  updateUser(by: $by, patch: $patch, expectedVersion: $expectedVersion) {{
    user {{ {FIELDS} }} userErrors {{ code message field }}
  }}
}}
"""
READ = f"query($by: UserRef!) {{ user(by: $by) {{ {FIELDS} }} }}"
TAGS = """
mutation($by: UserRef!, $tags: [String!]!) {
  addTags(by: $by, tags: $tags) { user { tags version } userErrors { code field } }
}
"""
UNTAG = """
mutation($by: UserRef!, $tags: [String!]!) {
  removeTags(by: $by, tags: $tags) { user { tags version } userErrors { code field } }
}
"""
DELETE = "mutation($by: UserRef!) { deleteUser(by: $by) { deletedUserId userErrors { code field } } }"


async def upsert(gateway: Gateway, tenant: Tenant, record: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = (await gateway.data(UPSERT, {"input": record}, token=tenant.app_token))["upsertUser"]
    return payload


async def update(
    gateway: Gateway, tenant: Tenant, by: dict[str, Any], patch: dict[str, Any], version: int | None = None
) -> dict[str, Any]:
    variables = {"by": by, "patch": patch, "expectedVersion": version}
    payload: dict[str, Any] = (await gateway.data(UPDATE, variables, token=tenant.app_token))["updateUser"]
    return payload


async def read(gateway: Gateway, tenant: Tenant, by: dict[str, Any]) -> dict[str, Any] | None:
    user: dict[str, Any] | None = (await gateway.data(READ, {"by": by}, token=tenant.app_token))["user"]
    return user


async def test_upsert_creates_then_updates(gateway: Gateway, tenant: Tenant) -> None:
    created = await upsert(gateway, tenant, {"externalUserId": "u-1", "givenName": "Ada"})
    assert created["userErrors"] == []
    user = created["user"]
    assert user["type"] == "LEAD" and user["identified"] is True and user["version"] == 0
    assert user["signedUpAt"] == user["createdAt"] == user["updatedAt"]  # signedUpAt defaults to creation
    updated = await upsert(gateway, tenant, {"externalUserId": "u-1", "surname": "Lovelace"})
    assert updated["user"]["id"] == user["id"]
    assert (updated["user"]["givenName"], updated["user"]["surname"]) == ("Ada", "Lovelace")
    assert updated["user"]["version"] == 1
    assert updated["user"]["signedUpAt"] == user["signedUpAt"]


async def test_what_a_write_returns_is_what_a_read_returns(gateway: Gateway, tenant: Tenant) -> None:
    record = {
        "externalUserId": "u-rt",
        "signedUpAt": "2024-05-01T12:30:00.123456+02:00",
        "customAttributes": [{"key": "seenAt", "value": {"datetime": "2024-05-01T12:30:00.987654Z"}}],
    }
    written = (await upsert(gateway, tenant, record))["user"]
    assert written == await read(gateway, tenant, {"externalUserId": "u-rt"})
    # Timestamps keep millisecond precision (what BSON stores), in UTC.
    assert written["signedUpAt"] == "2024-05-01T10:30:00.123000+00:00"
    assert written["customAttributes"][0]["value"] == "2024-05-01T12:30:00.987000Z"


async def test_an_identical_upsert_is_not_a_change(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    record = {
        "externalUserId": "u-same",
        "givenName": "Ada",
        "tags": ["a"],
        "customAttributes": [
            {"key": "plan", "value": {"string": "pro"}},
            {"key": "ltv", "value": {"number": "10.50"}},
            {"key": "since", "value": {"datetime": "2024-05-01T12:30:00.123456Z"}},
        ],
    }
    first = (await upsert(gateway, tenant, record))["user"]
    second = (await upsert(gateway, tenant, record))["user"]
    assert second["version"] == first["version"] == 0
    assert second["updatedAt"] == first["updatedAt"]
    assert await store.history.count_documents({"appId": tenant.app_id}) == 1  # only CREATED


async def test_version_grows_by_one_per_change(gateway: Gateway, tenant: Tenant) -> None:
    await upsert(gateway, tenant, {"externalUserId": "u-v"})
    by = {"externalUserId": "u-v"}
    versions = [(await update(gateway, tenant, by, {"givenName": name}))["user"]["version"] for name in "abc"]
    assert versions == [1, 2, 3]
    tagged = (await gateway.data(TAGS, {"by": by, "tags": ["t"]}, token=tenant.app_token))["addTags"]
    assert tagged["user"]["version"] == 4
    # Changes that change nothing keep the version.
    assert (await update(gateway, tenant, by, {"givenName": "c"}))["user"]["version"] == 4
    again = (await gateway.data(TAGS, {"by": by, "tags": ["t"]}, token=tenant.app_token))["addTags"]
    assert again["user"]["version"] == 4
    untag = (await gateway.data(UNTAG, {"by": by, "tags": ["absent"]}, token=tenant.app_token))["removeTags"]
    assert untag["user"]["version"] == 4


async def test_omitted_is_left_alone_and_null_removes(gateway: Gateway, tenant: Tenant) -> None:
    full = {
        "externalUserId": "u-null",
        "givenName": "Ada",
        "surname": "Lovelace",
        "middleName": "King",
        "gender": "female",
        "birthday": "1815-12-10",
        "preferredLanguage": "en-GB",
        "timezone": "Europe/London",
        "emails": ["ada@example.com"],
        "phones": ["+442071838750"],
        "tags": ["math"],
        "customAttributes": [{"key": "plan", "value": {"string": "pro"}}, {"key": "ltv", "value": {"number": "1"}}],
    }
    created = (await upsert(gateway, tenant, full))["user"]
    assert created["birthday"] == "1815-12-10" and created["phones"] == ["+442071838750"]
    by = {"id": created["id"]}
    untouched = (await update(gateway, tenant, by, {"gender": "F"}))["user"]
    assert {key: untouched[key] for key in ("givenName", "surname", "emails", "tags", "timezone")} == {
        "givenName": "Ada",
        "surname": "Lovelace",
        "emails": ["ada@example.com"],
        "tags": ["math"],
        "timezone": "Europe/London",
    }
    assert len(untouched["customAttributes"]) == 2
    cleared = (
        await update(
            gateway,
            tenant,
            by,
            {
                "givenName": None,
                "middleName": None,
                "birthday": None,
                "preferredLanguage": None,
                "timezone": None,
                "emails": None,
                "phones": None,
                "tags": None,
                "customAttributes": [{"key": "plan", "value": {"null": True}}],
            },
        )
    )["user"]
    assert cleared["givenName"] is None and cleared["middleName"] is None and cleared["birthday"] is None
    assert cleared["preferredLanguage"] is None and cleared["timezone"] is None
    assert cleared["emails"] == [] and cleared["phones"] == [] and cleared["tags"] == []
    assert cleared["surname"] == "Lovelace"
    assert cleared["customAttributes"] == [{"key": "ltv", "type": "NUMBER", "value": "1"}]
    assert cleared == await read(gateway, tenant, by)


async def test_first_and_last_name_are_aliases(gateway: Gateway, tenant: Tenant) -> None:
    user = (await upsert(gateway, tenant, {"externalUserId": "u-alias", "firstName": "Ada", "lastName": "L"}))["user"]
    assert (user["givenName"], user["surname"]) == ("Ada", "L")


async def test_null_strings_are_null_external_ids(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    for index, spelling in enumerate(("null", "Null", "NULL", "nuLL")):
        email = f"anon{index}@example.com"
        payload = await upsert(gateway, tenant, {"externalUserId": spelling, "emails": [email]})
        assert payload["userErrors"] == []
        assert payload["user"]["externalUserId"] is None and payload["user"]["identified"] is False
        stored = await store.users.find_one({"appId": tenant.app_id, "emails": email})
        assert stored is not None and "externalUserId" not in stored
    # Other strings are ids, the ones that merely look like placeholders too.
    named = await upsert(gateway, tenant, {"externalUserId": "0"})
    assert named["user"]["externalUserId"] == "0"
    alone = await upsert(gateway, tenant, {"externalUserId": "null"})
    assert [error["code"] for error in alone["userErrors"]] == ["INVALID_INPUT"]
    assert alone["userErrors"][0]["field"] == ["input"]
    assert await store.users.count_documents({"appId": tenant.app_id}) == 5


async def test_external_user_id_is_set_once(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    anonymous = (await upsert(gateway, tenant, {"emails": ["later@example.com"]}))["user"]
    by = {"id": anonymous["id"]}
    assert (await update(gateway, tenant, by, {"externalUserId": "NULL"}))["user"]["version"] == 0
    named = (await update(gateway, tenant, by, {"externalUserId": "later-1"}))["user"]
    assert named["externalUserId"] == "later-1" and named["identified"] is True
    before = await store.users.find_one({"appId": tenant.app_id})
    changed = await update(gateway, tenant, by, {"externalUserId": "other-1"})
    assert [(e["code"], e["field"]) for e in changed["userErrors"]] == [
        ("CONFLICTING_IDENTITIES", ["patch", "externalUserId"])
    ]
    removed = await update(gateway, tenant, by, {"externalUserId": None})
    assert [(e["code"], e["field"]) for e in removed["userErrors"]] == [("INVALID_INPUT", ["patch", "externalUserId"])]
    assert await store.users.find_one({"appId": tenant.app_id}) == before


async def test_signed_up_at(gateway: Gateway, tenant: Tenant) -> None:
    given = (await upsert(gateway, tenant, {"externalUserId": "u-s", "signedUpAt": "2020-01-02T03:04:05Z"}))["user"]
    assert given["signedUpAt"] == "2020-01-02T03:04:05+00:00" and given["createdAt"] != given["signedUpAt"]
    removed = await update(gateway, tenant, {"externalUserId": "u-s"}, {"signedUpAt": None})
    assert [(e["code"], e["field"]) for e in removed["userErrors"]] == [("INVALID_INPUT", ["patch", "signedUpAt"])]
    # A time without an offset is ambiguous: refused rather than read in the server's zone.
    naive = await update(gateway, tenant, {"externalUserId": "u-s"}, {"signedUpAt": "2020-01-02T03:04:05"})
    assert [(e["code"], e["field"]) for e in naive["userErrors"]] == [("INVALID_INPUT", ["patch", "signedUpAt"])]
    assert (await read(gateway, tenant, {"externalUserId": "u-s"}) or {})["version"] == 0


async def test_language_and_timezone_are_checked(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    payload = await upsert(
        gateway, tenant, {"externalUserId": "u-lt", "preferredLanguage": "not a tag", "timezone": "Mars/Olympus"}
    )
    assert payload["user"] is None
    assert sorted((e["code"], tuple(e["field"])) for e in payload["userErrors"]) == [
        ("INVALID_INPUT", ("input", "preferredLanguage")),
        ("INVALID_INPUT", ("input", "timezone")),
    ]
    assert await store.users.count_documents({"appId": tenant.app_id}) == 0


async def test_update_of_a_missing_user_is_not_found(gateway: Gateway, tenant: Tenant) -> None:
    missing = await update(gateway, tenant, {"externalUserId": "nobody"}, {"givenName": "x"})
    assert [(e["code"], e["field"]) for e in missing["userErrors"]] == [("NOT_FOUND", ["by"])]
    bad_id = await update(gateway, tenant, {"id": "not-a-global-id"}, {"givenName": "x"})
    assert [(e["code"], e["field"]) for e in bad_id["userErrors"]] == [("INVALID_INPUT", ["by", "id"])]
    assert (await read(gateway, tenant, {"id": "not-a-global-id"})) is None


async def test_expected_version(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    user = (await upsert(gateway, tenant, {"externalUserId": "u-ev", "givenName": "a"}))["user"]
    by = {"id": user["id"]}
    ok = await update(gateway, tenant, by, {"givenName": "b"}, version=0)
    assert ok["userErrors"] == [] and ok["user"]["version"] == 1
    before = await store.users.find_one({"appId": tenant.app_id})
    stale = await update(gateway, tenant, by, {"givenName": "c"}, version=0)
    assert stale["user"] is None
    assert [(e["code"], e["field"]) for e in stale["userErrors"]] == [("VERSION_CONFLICT", ["expectedVersion"])]
    assert await store.users.find_one({"appId": tenant.app_id}) == before


async def test_tags_are_a_set(gateway: Gateway, tenant: Tenant) -> None:
    await upsert(gateway, tenant, {"externalUserId": "u-t", "tags": ["a", " b ", "a"]})
    by = {"externalUserId": "u-t"}
    added = (await gateway.data(TAGS, {"by": by, "tags": ["b", "c"]}, token=tenant.app_token))["addTags"]
    assert added["user"]["tags"] == ["a", "b", "c"]
    removed = (await gateway.data(UNTAG, {"by": by, "tags": ["a", "zzz"]}, token=tenant.app_token))["removeTags"]
    assert removed["user"]["tags"] == ["b", "c"]
    empty = (await gateway.data(TAGS, {"by": by, "tags": ["  "]}, token=tenant.app_token))["addTags"]
    assert [(e["code"], e["field"]) for e in empty["userErrors"]] == [("INVALID_INPUT", ["tags", "0"])]


async def test_delete_user_erases_it(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    user = (await upsert(gateway, tenant, {"externalUserId": "u-d", "emails": ["d@example.com"]}))["user"]
    keep = (await upsert(gateway, tenant, {"externalUserId": "u-keep"}))["user"]
    deleted = (await gateway.data(DELETE, {"by": {"email": "D@example.com"}}, token=tenant.app_token))["deleteUser"]
    assert deleted == {"deletedUserId": user["id"], "userErrors": []}
    assert await read(gateway, tenant, {"externalUserId": "u-d"}) is None
    assert await store.users.count_documents({"appId": tenant.app_id}) == 1
    # Its history waits for housekeeping, which nothing can read meanwhile: the erasure is done.
    again = (await gateway.data(DELETE, {"by": {"id": user["id"]}}, token=tenant.app_token))["deleteUser"]
    assert again == {"deletedUserId": None, "userErrors": [{"code": "NOT_FOUND", "field": ["by"]}]}
    await purge_now(store)
    assert await store.history.count_documents({"appId": tenant.app_id}) == 1  # u-keep's CREATED
    # The identifiers are free again.
    recreated = (await upsert(gateway, tenant, {"externalUserId": "u-d", "emails": ["d@example.com"]}))["user"]
    assert recreated["id"] not in (user["id"], keep["id"])


async def test_node_and_lookups(gateway: Gateway, tenant: Tenant) -> None:
    user = (await upsert(gateway, tenant, {"externalUserId": "u-n", "phones": ["+14155552671"]}))["user"]
    node = await gateway.data(
        "query($id: ID!) { node(id: $id) { id ... on User { externalUserId } } }",
        {"id": user["id"]},
        token=tenant.app_token,
    )
    assert node["node"] == {"id": user["id"], "externalUserId": "u-n"}
    for bad in ("garbage", "VXNlcjo", user["id"] + "x"):
        none = await gateway.data("query($id: ID!) { node(id: $id) { id } }", {"id": bad}, token=tenant.app_token)
        assert none["node"] is None
    assert (await read(gateway, tenant, {"phone": "+1 415 555 2671"}) or {})["id"] == user["id"]
    assert await read(gateway, tenant, {"email": "not an email"}) is None
    app_me = await gateway.data("query { me { id } }", token=tenant.app_token)
    assert app_me["me"] is None


async def test_history_records_changes_without_values(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    await upsert(gateway, tenant, {"externalUserId": "u-h", "givenName": "Secret"})
    await update(gateway, tenant, {"externalUserId": "u-h"}, {"givenName": "Other"})
    events = await store.history.find({"appId": tenant.app_id}).sort("_id", 1).to_list()
    assert [event["kind"] for event in events] == ["CREATED", "UPDATED"]
    assert events[1]["actor"]["scope"] == "app" and events[1]["actor"]["keyId"] == tenant.key_id
    assert "Secret" not in str(events) and "Other" not in str(events)


async def test_empty_external_user_id_is_invalid(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    payload = await upsert(gateway, tenant, {"externalUserId": "   ", "emails": ["e@example.com"]})
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("INVALID_INPUT", ["input", "externalUserId"])]
    assert await store.users.count_documents({"appId": tenant.app_id}) == 0


async def test_operator_lookalikes_are_plain_values(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    """Values that look like query operators or paths are stored and matched literally."""
    await upsert(gateway, tenant, {"externalUserId": "plain"})
    sneaky = {
        "externalUserId": "$ne",
        "givenName": "$where",
        "tags": ["$set", "a.b"],
        "customAttributes": [{"key": "note", "value": {"string": '{"$gt": ""}'}}],
    }
    user = (await upsert(gateway, tenant, sneaky))["user"]
    assert user["externalUserId"] == "$ne" and user["tags"] == ["$set", "a.b"]
    assert (await read(gateway, tenant, {"externalUserId": "$ne"}) or {})["id"] == user["id"]
    assert await read(gateway, tenant, {"externalUserId": "$exists"}) is None
    stored = await store.users.find_one({"appId": tenant.app_id, "externalUserId": "$ne"})
    assert stored is not None and stored["attrs"] == {"note": '{"$gt": ""}'}
    assert await store.users.count_documents({"appId": tenant.app_id}) == 2


async def test_out_of_range_and_odd_values_are_user_errors(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    """Inputs at the edges of what Python and BSON can hold are userErrors, never internal errors."""
    cases: list[tuple[dict[str, Any], tuple[str, list[str]]]] = [
        ({"signedUpAt": "0001-01-01T00:00:00+01:00"}, ("INVALID_INPUT", ["input", "signedUpAt"])),
        ({"signedUpAt": "9999-12-31T23:59:59-01:00"}, ("INVALID_INPUT", ["input", "signedUpAt"])),
        (
            {"customAttributes": [{"key": "d", "value": {"datetime": "0001-01-01T00:30:00+01:00"}}]},
            ("INVALID_INPUT", ["input", "customAttributes", "0", "value"]),
        ),
        ({"timezone": "x" * 300}, ("INVALID_INPUT", ["input", "timezone"])),
        ({"timezone": "../../etc/passwd"}, ("INVALID_INPUT", ["input", "timezone"])),
        ({"phones": ["+" + "1" * 300]}, ("INVALID_PHONE", ["input", "phones", "0"])),
        ({"emails": ["a\u0000@example.com"]}, ("INVALID_EMAIL", ["input", "emails", "0"])),
    ]
    for extra, expected in cases:
        payload = await upsert(gateway, tenant, {"externalUserId": "edge", **extra})
        assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [expected], extra
    assert await store.users.count_documents({"appId": tenant.app_id}) == 0
    edges = {"birthday": "0001-01-01", "signedUpAt": "9999-12-31T23:59:59Z"}
    assert (await upsert(gateway, tenant, {"externalUserId": "edge", **edges}))["userErrors"] == []
