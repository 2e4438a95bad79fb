"""Writes that already hold the user they change stamp its change events with it: the unit of
work does not read the user again at commit (one `find users` fewer per request), and the
events still carry the version and externalUserId the change left."""

from __future__ import annotations

from typing import Any

from app.store import outbox
from app.store.client import Store
from tests.commands import CommandLog
from tests.helpers import Gateway, Tenant
from tests.identity_ops import MERGE, UPSERT, personalize, register_anonymous


async def _last_event(store: Store, app_id: str, event_type: str) -> dict[str, Any]:
    found = await outbox.events(store).find({"appId": app_id, "type": event_type}, sort=[("seq", -1)]).to_list(1)
    assert found, f"no {event_type} event"
    return found[0]


async def test_personalize_reads_the_user_once(
    gateway: Gateway, tenant: Tenant, store: Store, command_log: CommandLog
) -> None:
    await register_anonymous(gateway, tenant, "phone")
    with command_log.recording() as commands:
        payload = await personalize(gateway, tenant, "phone", {"externalUserId": "alice"})
    assert payload["userErrors"] == []
    # The installation's user and the identity's holders; none at commit.
    assert commands["find users"] == 2
    event = await _last_event(store, tenant.app_id, "user.personalized")
    assert (event["version"], event["externalUserId"]) == (1, "alice")


async def test_merge_users_reads_each_user_once(
    gateway: Gateway, tenant: Tenant, store: Store, command_log: CommandLog
) -> None:
    await gateway.data(UPSERT, {"input": {"externalUserId": "target"}}, token=tenant.app_token)
    await gateway.data(UPSERT, {"input": {"emails": ["lead@example.com"]}}, token=tenant.app_token)
    with command_log.recording() as commands:
        data = await gateway.data(
            MERGE,
            {"target": {"externalUserId": "target"}, "source": {"email": "lead@example.com"}},
            token=tenant.app_token,
        )
    assert data["mergeUsers"]["userErrors"] == []
    assert commands["find users"] == 2  # the target and the source; none at commit
    event = await _last_event(store, tenant.app_id, "user.merged")
    assert (event["version"], event["externalUserId"]) == (1, "target")


async def test_an_anonymous_registration_reads_no_user(
    gateway: Gateway, tenant: Tenant, store: Store, command_log: CommandLog
) -> None:
    await register_anonymous(gateway, tenant, "first")  # the app id is read once per process
    with command_log.recording() as commands:
        await register_anonymous(gateway, tenant, "second")
    assert commands["find users"] == 1  # the session's user, to build the response
    event = await _last_event(store, tenant.app_id, "user.created")
    assert (event["version"], event["externalUserId"]) == (0, None)


INCREMENT = """
mutation($by: UserRef!) {
  updateCustomAttributes(by: $by, ops: [{increment: {key: "visits", amount: "1"}}]) { userErrors { code field } }
}
"""
TAG = 'mutation($by: UserRef!) { addTags(by: $by, tags: ["seen"]) { userErrors { code field } } }'


async def test_an_app_token_write_by_identifier_reads_the_user_once(
    gateway: Gateway, tenant: Tenant, command_log: CommandLog
) -> None:
    """An app token may act on any user of its app: the identifier is resolved through the
    registry and only the write itself reads the user. An attribute write reads it not even
    once: its guarded update returns the document as stored."""
    await gateway.data(
        UPSERT, {"input": {"externalUserId": "counted", "emails": ["counted@example.com"]}}, token=tenant.app_token
    )
    for by in ({"externalUserId": "counted"}, {"email": "counted@example.com"}):
        for mutation, name, reads in ((INCREMENT, "updateCustomAttributes", 0), (TAG, "addTags", 1)):
            with command_log.recording() as commands:
                data = await gateway.data(mutation, {"by": by}, token=tenant.app_token)
            assert data[name]["userErrors"] == []
            assert (commands["find identifier_registry"], commands["find users"]) == (1, reads), (name, by, commands)
    # Nobody holds it: NOT_FOUND at the same path as before, and no user read at all.
    with command_log.recording() as commands:
        data = await gateway.data(INCREMENT, {"by": {"externalUserId": "nobody"}}, token=tenant.app_token)
    assert data["updateCustomAttributes"]["userErrors"] == [{"code": "NOT_FOUND", "field": ["by"]}]
    assert commands["find users"] == 0
