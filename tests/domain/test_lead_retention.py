"""Retention of anonymous leads: with PROFILE_GATEWAY_ANONYMOUS_LEAD_RETENTION_DAYS set, the
users that registrations with only the app id create, and that never identified themselves, left
contact data or came back, are erased with their devices, sessions and history; everyone else
is kept. Each erasure is one unit of work that checks the rule again on what it reads."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from app.domain import clock
from app.domain.lead_retention import (
    IDENTIFYING_FIELDS,
    count_idle,
    erase_if_idle,
    is_idle_anonymous_lead,
    sweep_step,
)
from app.graphql.ids import decode_id, encode_id
from app.store import registry
from app.store.client import Store
from app.store.errors import StoreUnreachable
from tests.domain.test_write_atomicity import Steps, hooked, snapshot
from tests.events.test_change_feed import feed
from tests.helpers import Gateway, Tenant
from tests.identity_ops import SAVE, UPSERT, personalize, register_anonymous, session_headers

ME = "query { me { id } }"
INCREMENT = """
mutation($id: ID!) {
  updateCustomAttributes(by: {id: $id}, ops: [{increment: {key: "opens", amount: "1"}}]) {
    userErrors { code }
  }
}
"""
UPDATE = """
mutation($id: ID!, $patch: UserPatch!) {
  updateUser(by: {id: $id}, patch: $patch) { userErrors { code } }
}
"""
NOW = clock.now()


def _lead(**fields: Any) -> dict[str, Any]:
    return {"_id": "u1", "type": "LEAD", "updatedAt": NOW - timedelta(days=40), **fields}


def test_an_untouched_anonymous_lead_is_idle() -> None:
    assert is_idle_anonymous_lead(_lead(emails=[], phones=[], channels=[]), [NOW - timedelta(days=31)], NOW)


@given(
    field=st.sampled_from(IDENTIFYING_FIELDS),
    value=st.one_of(st.text(min_size=1), st.lists(st.text(), min_size=1)),
)
def test_a_user_holding_any_identifier_or_contact_data_is_never_idle(field: str, value: Any) -> None:
    assert not is_idle_anonymous_lead(_lead(**{field: value}), [], NOW)


def test_customers_tombstones_and_recent_activity_keep_a_user() -> None:
    recent = NOW - timedelta(days=1)
    assert not is_idle_anonymous_lead(_lead(type="CUSTOMER"), [], NOW - timedelta(days=30))
    assert not is_idle_anonymous_lead(_lead(mergedInto="u2"), [], NOW - timedelta(days=30))
    assert not is_idle_anonymous_lead(_lead(updatedAt=recent), [], NOW - timedelta(days=30))
    assert not is_idle_anonymous_lead(_lead(), [NOW - timedelta(days=40), recent], NOW - timedelta(days=30))
    assert not is_idle_anonymous_lead(_lead(), [None], NOW - timedelta(days=30))  # never seen: no date to judge


async def _anonymous(gateway: Gateway, tenant: Tenant, prid: str) -> tuple[str, str]:
    installation, session = await register_anonymous(gateway, tenant, prid)
    return decode_id(installation["user"]["id"], "User", ("id",)), session


async def _later() -> datetime:
    """A moment after every write so far (the store keeps milliseconds)."""
    await asyncio.sleep(0.01)
    moment = clock.now()
    await asyncio.sleep(0.01)
    return moment


async def _sweep(store: Store, tenant: Tenant, idle_since: datetime) -> int:
    erased, after = 0, None
    while True:
        # Steps of two users, one erasure each at most: a step may end before a candidate.
        step = await sweep_step(store, tenant.app_id, after, idle_since, 2, 1)
        erased += step.erased
        if step.after_id is None:
            return erased
        after = step.after_id


async def test_an_idle_anonymous_lead_is_erased_with_its_device_session_and_history(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    user_id, session = await _anonymous(gateway, tenant, "idle-device")
    assert (await gateway.post(ME, headers=session_headers(session))).status_code == 200
    idle_since = await _later()

    assert await _sweep(store, tenant, idle_since) == 1

    assert await store.users.find_one({"_id": user_id}) is None
    assert await store.installations.find_one({"appId": tenant.app_id, "userId": user_id}) is None
    assert await store.sessions.find_one({"appId": tenant.app_id, "userId": user_id}) is None
    assert await registry.collection(store).find_one({"appId": tenant.app_id, "userId": user_id}) is None
    assert (await gateway.post(ME, headers=session_headers(session))).status_code == 401
    last = (await feed(gateway, tenant))["edges"][-1]["node"]  # downstream systems are told
    assert (last["type"], last["userId"], last["deletionReason"]) == (
        "user.deleted",
        encode_id("User", user_id),
        "retention",
    )
    # The device comes back: it registers anew, as a new anonymous lead.
    again, _ = await _anonymous(gateway, tenant, "idle-device")
    assert again != user_id


async def test_known_reachable_and_active_users_are_kept(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    customer, _ = await _anonymous(gateway, tenant, "customer-device")
    assert (await personalize(gateway, tenant, "customer-device", {"externalUserId": "ann"}))["userErrors"] == []
    left_email, email_session = await _anonymous(gateway, tenant, "email-device")
    patch = {"id": encode_id("User", left_email), "patch": {"emails": ["lead@example.com"]}}
    assert (await gateway.data(UPDATE, patch, headers=session_headers(email_session)))["updateUser"]["userErrors"] == []
    seen, _ = await _anonymous(gateway, tenant, "seen-device")
    written, written_session = await _anonymous(gateway, tenant, "written-device")
    backend_lead = await gateway.data(UPSERT, {"input": {"externalUserId": "bob"}}, token=tenant.app_token)
    idle, _ = await _anonymous(gateway, tenant, "idle-device")
    idle_since = await _later()
    # After the moment: one device seen again, one lead written by its own session.
    heartbeat = {"input": {"pushRegistrationId": "seen-device", "platform": "IOS"}}
    assert (await gateway.data(SAVE, heartbeat, token=tenant.app_token))["saveInstallation"]["userErrors"] == []
    increment = await gateway.data(
        INCREMENT, {"id": encode_id("User", written)}, headers=session_headers(written_session)
    )
    assert increment["updateCustomAttributes"]["userErrors"] == []

    assert await count_idle(store, tenant.app_id, idle_since) == (1, 6)  # what an operator previews
    assert await _sweep(store, tenant, idle_since) == 1
    assert await count_idle(store, tenant.app_id, idle_since) == (0, 5)

    kept = {str(user["_id"]) async for user in store.users.find({"appId": tenant.app_id}, {"_id": 1})}
    assert {customer, left_email, seen, written} <= kept
    assert backend_lead["upsertUser"]["user"]["id"]
    assert idle not in kept


async def test_a_device_seen_after_the_walk_read_it_keeps_its_lead(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    """The walk judged the lead idle; the erasure's own reads see the heartbeat since."""
    user_id, session = await _anonymous(gateway, tenant, "racing-device")
    idle_since = await _later()
    heartbeat = {"input": {"pushRegistrationId": "racing-device", "platform": "IOS"}}
    saved = await gateway.data(SAVE, heartbeat, headers=session_headers(session))
    assert saved["saveInstallation"]["userErrors"] == []

    assert await erase_if_idle(store, tenant.app_id, user_id, idle_since) is False
    assert await store.users.find_one({"_id": user_id}) is not None
    assert (await gateway.post(ME, headers=session_headers(session))).status_code == 200


async def test_an_erasure_that_fails_at_any_write_leaves_the_lead_whole(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    probe_id, _ = await _anonymous(gateway, tenant, "probe-device")
    user_id, session = await _anonymous(gateway, tenant, "fragile-device")
    idle_since = await _later()
    counting = Steps()
    with hooked(counting):  # the erasure's write steps, learnt on another lead
        assert await erase_if_idle(store, tenant.app_id, probe_id, idle_since)
    assert len(counting.seen) >= 4, counting.seen
    before = await snapshot(store, tenant.app_id)
    for fail_at in range(1, len(counting.seen) + 1):
        with hooked(Steps(fail_at=fail_at)):
            try:
                await erase_if_idle(store, tenant.app_id, user_id, idle_since)
            except StoreUnreachable:
                pass
            else:
                raise AssertionError(f"no failure injected at step {fail_at}")
        assert await snapshot(store, tenant.app_id) == before, f"partial erasure after {counting.seen[fail_at - 1]}"
    assert (await gateway.post(ME, headers=session_headers(session))).status_code == 200
    assert await erase_if_idle(store, tenant.app_id, user_id, idle_since)
    assert await store.users.find_one({"_id": user_id}) is None
