"""Emails, phones and externalUserIds: validated, normalised, held by at most one user per app."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import pytest

from app.graphql.ids import decode_any
from app.store.client import Store
from tests.helpers import Gateway, Tenant

UPSERT = """
mutation($input: UpsertUserInput!) {
  upsertUser(input: $input) { user { id externalUserId emails phones version } userErrors { code message field } }
}
"""
UPDATE = """
mutation($by: UserRef!, $patch: UserPatch!) {
  updateUser(by: $by, patch: $patch) { user { id emails phones } userErrors { code message field } }
}
"""


async def _upsert(gateway: Gateway, tenant: Tenant, record: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = (await gateway.data(UPSERT, {"input": record}, token=tenant.app_token))["upsertUser"]
    return payload


def _errors(payload: dict[str, Any]) -> list[tuple[str, list[str]]]:
    return [(error["code"], error["field"]) for error in payload["userErrors"]]


async def test_emails_and_phones_are_normalised(gateway: Gateway, tenant: Tenant) -> None:
    record = {
        "externalUserId": "u-1",
        "emails": ["Ada.Lovelace@Example.COM", "ada.lovelace@example.com", "second@example.org"],
        "phones": ["+49 151 1234 5678", "+4915112345678", "+1 (415) 555-2671"],
    }
    user = (await _upsert(gateway, tenant, record))["user"]
    assert user["emails"] == ["ada.lovelace@example.com", "second@example.org"]
    assert user["phones"] == ["+4915112345678", "+14155552671"]


async def test_invalid_email_and_phone(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    record = {
        "externalUserId": "u-2",
        "emails": ["ok@example.com", "not-an-email", "x" * 330 + "@example.com"],
        "phones": ["0151 12345678", "+49151", "+4915112345678"],
    }
    payload = await _upsert(gateway, tenant, record)
    assert payload["user"] is None
    # Each list reports its first bad item.
    assert _errors(payload) == [
        ("INVALID_EMAIL", ["input", "emails", "1"]),
        ("INVALID_PHONE", ["input", "phones", "0"]),
    ]
    assert await store.users.count_documents({"appId": tenant.app_id}) == 0
    bad_phone = await _upsert(gateway, tenant, {"externalUserId": "u-2", "phones": ["+4915112345678", "+49151"]})
    assert _errors(bad_phone) == [("INVALID_PHONE", ["input", "phones", "1"])]
    too_long = await _upsert(gateway, tenant, {"externalUserId": "u-2", "emails": ["x" * 330 + "@example.com"]})
    assert _errors(too_long) == [("INVALID_EMAIL", ["input", "emails", "0"])]
    assert await store.users.count_documents({"appId": tenant.app_id}) == 0


async def test_invalid_identifier_in_a_reference(gateway: Gateway, tenant: Tenant) -> None:
    payload = (await gateway.data(UPDATE, {"by": {"phone": "12"}, "patch": {}}, token=tenant.app_token))["updateUser"]
    assert _errors(payload) == [("INVALID_PHONE", ["by", "phone"])]
    payload = (await gateway.data(UPDATE, {"by": {"email": "@"}, "patch": {}}, token=tenant.app_token))["updateUser"]
    assert _errors(payload) == [("INVALID_EMAIL", ["by", "email"])]


async def test_second_holder_of_an_identifier_is_refused(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    await _upsert(
        gateway, tenant, {"externalUserId": "holder", "emails": ["taken@example.com"], "phones": ["+4915112345678"]}
    )
    before = await store.users.find({"appId": tenant.app_id}).to_list()

    payload = await _upsert(
        gateway, tenant, {"externalUserId": "newcomer", "emails": ["free@example.com", "TAKEN@example.com"]}
    )
    assert payload["user"] is None
    assert _errors(payload) == [("USER_MERGE_INTERRUPTED", ["input", "emails", "1"])]
    assert "taken@example.com" in payload["userErrors"][0]["message"]

    payload = await _upsert(gateway, tenant, {"externalUserId": "newcomer", "phones": ["+49 151 12345678"]})
    assert _errors(payload) == [("USER_MERGE_INTERRUPTED", ["input", "phones", "0"])]

    # An upsert named by email finds the holder instead; one with another phone is refused.
    other = (await _upsert(gateway, tenant, {"externalUserId": "other", "phones": ["+14155552671"]}))["user"]
    payload = await _upsert(gateway, tenant, {"emails": ["taken@example.com"], "phones": ["+14155552671"]})
    assert _errors(payload) == [("USER_MERGE_INTERRUPTED", ["input", "phones", "0"])]

    # updateUser: emails, phones and a newly set externalUserId.
    anonymous = (await _upsert(gateway, tenant, {"emails": ["anon@example.com"]}))["user"]
    by = {"id": anonymous["id"]}
    for patch, field in (
        ({"emails": ["anon@example.com", "taken@example.com"]}, ["patch", "emails", "1"]),
        ({"phones": ["+14155552671"]}, ["patch", "phones", "0"]),
        ({"externalUserId": "holder"}, ["patch", "externalUserId"]),
    ):
        result = (await gateway.data(UPDATE, {"by": by, "patch": patch}, token=tenant.app_token))["updateUser"]
        assert _errors(result) == [("USER_MERGE_INTERRUPTED", field)], patch
    several = (
        await gateway.data(
            UPDATE,
            {"by": by, "patch": {"externalUserId": "holder", "phones": ["+4915112345678"]}},
            token=tenant.app_token,
        )
    )["updateUser"]
    assert sorted(_errors(several)) == [
        ("USER_MERGE_INTERRUPTED", ["patch", "externalUserId"]),
        ("USER_MERGE_INTERRUPTED", ["patch", "phones", "0"]),
    ]

    unrelated = {"$nin": [_raw(other["id"]), _raw(anonymous["id"])]}
    assert await store.users.find({"appId": tenant.app_id, "_id": unrelated}).to_list() == before
    assert await store.users.count_documents({"appId": tenant.app_id}) == 3
    stored = await store.users.find_one({"appId": tenant.app_id, "emails": "anon@example.com"})
    assert stored is not None and stored["version"] == 0 and "externalUserId" not in stored


def _raw(global_id: str) -> str:
    decoded = decode_any(global_id)
    assert decoded is not None
    return decoded[1]


async def test_concurrent_upserts_of_one_new_external_id_make_one_user(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    payloads = await asyncio.gather(
        *(_upsert(gateway, tenant, {"externalUserId": "racer", "tags": [f"t{index}"]}) for index in range(8))
    )
    assert [payload["userErrors"] for payload in payloads] == [[]] * 8
    assert len({payload["user"]["id"] for payload in payloads}) == 1
    assert await store.users.count_documents({"appId": tenant.app_id}) == 1


async def test_concurrent_upserts_of_one_new_email_make_one_user(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    payloads = await asyncio.gather(
        *(_upsert(gateway, tenant, {"emails": ["Race@example.com"], "givenName": f"n{index}"}) for index in range(8))
    )
    assert [payload["userErrors"] for payload in payloads] == [[]] * 8
    assert len({payload["user"]["id"] for payload in payloads}) == 1
    assert await store.users.count_documents({"appId": tenant.app_id}) == 1


async def test_concurrent_updates_lose_nothing(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    await _upsert(gateway, tenant, {"externalUserId": "busy"})
    tag = 'mutation($t: [String!]!) { addTags(by: {externalUserId: "busy"}, tags: $t) { userErrors { code } } }'
    results = await asyncio.gather(
        *(gateway.data(tag, {"t": [f"t{index}"]}, token=tenant.app_token) for index in range(8))
    )
    assert all(result["addTags"]["userErrors"] == [] for result in results)
    document = await store.users.find_one({"appId": tenant.app_id})
    assert document is not None
    assert sorted(document["tags"]) == sorted(f"t{index}" for index in range(8))
    assert document["version"] == 8


async def test_the_registry_guards_identifiers_in_the_store(tenant: Tenant, store: Store) -> None:
    """Even a write that skips the checks cannot give a second user an identifier: the
    registry entry's _id is the identifier, so the second claim is a duplicate key."""
    from pymongo.errors import DuplicateKeyError

    from app.domain.users import insert_user
    from app.store import unit_of_work

    base = {"appId": tenant.app_id, "emails": [], "phones": [], "version": 1}

    def store_user(document: dict[str, object]) -> Awaitable[None]:
        return unit_of_work.run(store, lambda unit: insert_user(unit, document))

    await store_user({**base, "_id": "a", "externalUserId": "x", "emails": ["e@example.com"]})
    cases: list[tuple[dict[str, object], str, str, str]] = [
        ({"externalUserId": "x"}, "externalUserId", "x", "externalUserId"),
        ({"emails": ["e@example.com"]}, "emails", "e@example.com", "email"),
    ]
    for duplicate, field, value, kind in cases:
        with pytest.raises(DuplicateKeyError) as raised:
            await store_user({**base, "_id": "b", **duplicate})
        assert raised.value.details == {
            "registryKey": f"{tenant.app_id}|{kind}|{value}",
            "keyValue": {field: value},
        }
    assert await store.users.count_documents({"appId": tenant.app_id}) == 1
    # Users without an identifier do not collide with each other.
    await store_user({**base, "_id": "c"})
    await store_user({**base, "_id": "d"})
