"""The identifier registry decides who holds an identifier: concurrent claims, failures
between the claim and the user write, look-ups by _id, erasure, and the back-fill of data
written before the registry existed."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from pymongo.errors import AutoReconnect

from app.graphql.ids import decode_any
from app.store import registry, unit_of_work
from app.store.client import Store
from tests.commands import CommandLog
from tests.helpers import Gateway, Tenant
from tests.identity_ops import UPSERT, register_anonymous, session_headers

USER_BY_EMAIL = 'query { user(by: {email: "Ann@Example.com"}) { id emails } }'
DELETE = "mutation($by: UserRef!) { deleteUser(by: $by) { userErrors { code } } }"
UPDATE = """
mutation($by: UserRef!, $patch: UserPatch!) {
  updateUser(by: $by, patch: $patch) { user { id emails unverifiedEmails } userErrors { code field } }
}
"""


def _raw(global_id: str) -> str:
    decoded = decode_any(global_id)
    assert decoded is not None
    return decoded[1]


async def _entries(store: Store, app_id: str) -> dict[str, str]:
    # Identifier entries name a user; installation entries (pushRegistrationId) do not.
    query = {"appId": app_id, "userId": {"$exists": True}}
    return {entry["_id"]: entry["userId"] async for entry in registry.collection(store).find(query)}


async def _upsert(gateway: Gateway, tenant: Tenant, record: dict[str, Any]) -> dict[str, Any]:
    data = await gateway.data(UPSERT, {"input": record}, token=tenant.app_token)
    result: dict[str, Any] = data["upsertUser"]
    return result


async def test_concurrent_upserts_of_one_new_identifier_end_in_one_user(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    records = [{"externalUserId": "racer", "emails": ["racer@example.com"], "givenName": f"r{n}"} for n in range(8)]
    results = await asyncio.gather(*(_upsert(gateway, tenant, record) for record in records))
    assert all(result["userErrors"] == [] for result in results)
    ids = {result["user"]["id"] for result in results}
    assert len(ids) == 1
    users = await store.users.find({"appId": tenant.app_id}).to_list()
    assert len(users) == 1
    assert set((await _entries(store, tenant.app_id)).values()) == {users[0]["_id"]}


class InjectedFailure(AutoReconnect):
    """A store failure between two write steps."""


async def test_a_failure_between_the_claim_and_the_user_write_leaves_neither(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    record = {"externalUserId": "new-1", "emails": ["n@example.com"]}
    steps: list[str] = []

    async def fail_at_the_user_insert(step: str) -> None:
        steps.append(step)
        if step == "insert users":
            raise InjectedFailure("injected after the registry claim")

    unit_of_work.WRITE_HOOKS.append(fail_at_the_user_insert)
    try:
        body = await gateway.execute(UPSERT, {"input": record}, token=tenant.app_token)
    finally:
        unit_of_work.WRITE_HOOKS.remove(fail_at_the_user_insert)
    assert body.get("errors"), body
    assert steps[:2] == ["insert identifier_registry", "insert users"]  # the claim came first
    assert await _entries(store, tenant.app_id) == {}
    assert await store.users.count_documents({"appId": tenant.app_id}) == 0
    # Nothing half-claimed blocks the identifier afterwards.
    assert (await _upsert(gateway, tenant, record))["userErrors"] == []


async def test_a_look_up_by_email_costs_the_same_round_trips_whatever_the_users(
    gateway: Gateway, tenant: Tenant, command_log: CommandLog
) -> None:
    await _upsert(gateway, tenant, {"emails": ["ann@example.com"]})

    async def look_up() -> Counter[str]:
        with command_log.recording() as commands:
            data = await gateway.data(USER_BY_EMAIL, token=tenant.app_token)
        assert data["user"]["emails"] == ["ann@example.com"]
        return Counter({name: n for name, n in commands.items() if name.endswith((" users", " identifier_registry"))})

    few = await look_up()
    for n in range(30):
        await _upsert(gateway, tenant, {"emails": [f"u{n}@example.com"], "phones": [f"+4930{n:07d}"]})
    many = await look_up()
    # One point read of the registry by _id, then the user by _id.
    assert few == many == Counter({"find identifier_registry": 1, "find users": 1})


async def test_erasing_a_user_releases_its_identifiers(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    first = await _upsert(gateway, tenant, {"externalUserId": "gone", "emails": ["gone@example.com"]})
    await gateway.data(DELETE, {"by": {"id": first["user"]["id"]}}, token=tenant.app_token)
    assert await _entries(store, tenant.app_id) == {}
    second = await _upsert(gateway, tenant, {"externalUserId": "gone", "emails": ["gone@example.com"]})
    assert second["userErrors"] == []
    assert second["user"]["id"] != first["user"]["id"]


async def test_changing_an_identifier_frees_the_old_one(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    old = await _upsert(gateway, tenant, {"externalUserId": "ann", "emails": ["old@example.com"]})
    await gateway.data(
        UPDATE, {"by": {"externalUserId": "ann"}, "patch": {"emails": ["new@example.com"]}}, token=tenant.app_token
    )
    other = await _upsert(gateway, tenant, {"emails": ["old@example.com"]})
    assert other["userErrors"] == []
    assert other["user"]["id"] != old["user"]["id"]
    assert await _entries(store, tenant.app_id) == {
        f"{tenant.app_id}|externalUserId|ann": _raw(old["user"]["id"]),
        f"{tenant.app_id}|email|new@example.com": _raw(old["user"]["id"]),
        f"{tenant.app_id}|email|old@example.com": _raw(other["user"]["id"]),
    }


async def test_unverified_contact_data_is_never_registered(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    installation, session = await register_anonymous(gateway, tenant, "lead-device")
    lead_id = installation["user"]["id"]
    data = await gateway.data(
        UPDATE, {"by": {"id": lead_id}, "patch": {"emails": ["lead@example.com"]}}, headers=session_headers(session)
    )
    assert data["updateUser"]["user"]["unverifiedEmails"] == ["lead@example.com"]
    assert await _entries(store, tenant.app_id) == {}


async def test_the_back_fill_registers_users_written_before_the_registry(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    """Users stored by an earlier version (no registry entries) are found and guarded after
    the start-up back-fill; running it again changes nothing."""
    base = {"appId": tenant.app_id, "version": 1, "phones": [], "tags": []}
    await store.users.insert_many(
        [
            {**base, "_id": "old-1", "externalUserId": "legacy", "emails": ["legacy@example.com"]},
            {**base, "_id": "old-2", "emails": ["second@example.com", "third@example.com"]},
            {"_id": "old-3", "appId": tenant.app_id, "mergedInto": "old-1"},
        ]
    )
    await registry.collection(store).delete_one({"_id": registry.BACKFILL_MARK})
    assert await registry.backfill(store) == 4
    assert await registry.backfill(store) == 0
    await registry.collection(store).delete_one({"_id": registry.BACKFILL_MARK})
    assert await registry.backfill(store) == 0  # idempotent even when it runs again
    assert (await _entries(store, tenant.app_id))[f"{tenant.app_id}|email|third@example.com"] == "old-2"
    taken = await _upsert(gateway, tenant, {"externalUserId": "someone", "emails": ["legacy@example.com"]})
    assert [error["code"] for error in taken["userErrors"]] == ["USER_MERGE_INTERRUPTED"]


async def test_a_change_that_adds_no_identifier_reads_the_registry_only_to_find_the_user(
    gateway: Gateway, tenant: Tenant, command_log: CommandLog
) -> None:
    await _upsert(gateway, tenant, {"externalUserId": "kai", "emails": ["kai@example.com", "k2@example.com"]})
    with command_log.recording() as commands:
        data = await gateway.data(
            UPDATE, {"by": {"externalUserId": "kai"}, "patch": {"givenName": "Kai"}}, token=tenant.app_token
        )
    assert data["updateUser"]["userErrors"] == []
    registry_commands = {name: n for name, n in commands.items() if name.endswith(" identifier_registry")}
    assert registry_commands == {"find identifier_registry": 1}
