"""``hasChannel: ANDROID_PUSH / IOS_PUSH`` matches the push destinations a user's installations
give it, as ``User.channels`` shows them, through every path that moves or changes an
installation (app/domain/device_reach.py)."""

from __future__ import annotations

from typing import Any

from app.domain import users as users_domain
from app.domain.device_reach import backfill_device_channel_types
from app.store import registry, unit_of_work
from app.store import users as users_store
from app.store.client import Store
from app.store.unit_of_work import UnitOfWork
from tests.domain.test_channel_types import _assert_every_user_consistent, _ok
from tests.domain.test_device_channels import ADD, REMOVE
from tests.helpers import Gateway, Tenant
from tests.identity_ops import DEPERSONALIZE, MERGE, PERSONALIZE, SAVE, UPSERT

PUSH_TYPES = ("IOS_PUSH", "ANDROID_PUSH")
PAGE = """
query($type: ChannelType!) {
  users(first: 100, filter: {hasChannel: $type}) { nodes { id } userErrors { code } }
}
"""
CHANNELS = "{ users(first: 100) { nodes { id channels { id type } } } }"
TOKEN = "t" * 64


async def _matched(gateway: Gateway, tenant: Tenant, kind: str) -> set[str]:
    page = (await gateway.data(PAGE, {"type": kind}, token=tenant.app_token))["users"]
    assert page["userErrors"] == []
    return {node["id"] for node in page["nodes"]}


async def _shown(gateway: Gateway, tenant: Tenant, kind: str) -> set[str]:
    """The users whose ``channels`` show a channel of this type."""
    nodes = (await gateway.data(CHANNELS, token=tenant.app_token))["users"]["nodes"]
    return {node["id"] for node in nodes if any(channel["type"] == kind for channel in node["channels"])}


async def _assert_filter_agrees(gateway: Gateway, tenant: Tenant, store: Store) -> dict[str, set[str]]:
    """For each push type, the filter matches exactly the users whose channels show one."""
    matched = {}
    for kind in PUSH_TYPES:
        matched[kind] = await _matched(gateway, tenant, kind)
        assert matched[kind] == await _shown(gateway, tenant, kind), kind
    await _assert_every_user_consistent(store, tenant)
    return matched


def _user_id(data: dict[str, Any]) -> str:
    payload = next(iter(data.values()))
    user_id: str = (payload.get("installation") or {}).get("user", {}).get("id") or payload["user"]["id"]
    return user_id


async def test_every_path_that_moves_or_changes_an_installation(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    ios = {"pushRegistrationId": "phone", "platform": "IOS", "pushToken": TOKEN}
    lead = _user_id(await _ok(gateway, tenant, SAVE, {"input": ios}))
    assert (await _assert_filter_agrees(gateway, tenant, store))["IOS_PUSH"] == {lead}

    # personalize: the device moves to the customer it names
    customer = _user_id(
        await _ok(gateway, tenant, PERSONALIZE, {"prid": "phone", "identity": {"externalUserId": "ann"}})
    )
    assert (await _assert_filter_agrees(gateway, tenant, store))["IOS_PUSH"] == {customer}

    # push switched off on the device, then on again
    await _ok(gateway, tenant, SAVE, {"input": {**ios, "isPushRegistrationEnabled": False}})
    assert (await _assert_filter_agrees(gateway, tenant, store))["IOS_PUSH"] == set()
    await _ok(gateway, tenant, SAVE, {"input": {**ios, "isPushRegistrationEnabled": True}})
    assert (await _assert_filter_agrees(gateway, tenant, store))["IOS_PUSH"] == {customer}

    # an Android device of another person, merged into the customer
    android = {"pushRegistrationId": "tablet", "platform": "ANDROID", "pushToken": "a" * 64}
    other = _user_id(await _ok(gateway, tenant, SAVE, {"input": android}))
    assert (await _assert_filter_agrees(gateway, tenant, store))["ANDROID_PUSH"] == {other}
    await _ok(gateway, tenant, MERGE, {"target": {"externalUserId": "ann"}, "source": {"pushRegistrationId": "tablet"}})
    matched = await _assert_filter_agrees(gateway, tenant, store)
    assert matched == {"IOS_PUSH": {customer}, "ANDROID_PUSH": {customer}}

    # depersonalize (remote log-out): the phone goes to a new anonymous user
    anonymous = _user_id(await _ok(gateway, tenant, DEPERSONALIZE, {"prid": "phone"}))
    assert anonymous != customer
    matched = await _assert_filter_agrees(gateway, tenant, store)
    assert matched == {"IOS_PUSH": {anonymous}, "ANDROID_PUSH": {customer}}

    # the token forgotten by removing the derived channel
    channels = (await gateway.data(CHANNELS, token=tenant.app_token))["users"]["nodes"]
    device = next(c["id"] for node in channels if node["id"] == customer for c in node["channels"])
    await _ok(gateway, tenant, REMOVE, {"by": {"externalUserId": "ann"}, "id": device})
    assert (await _assert_filter_agrees(gateway, tenant, store))["ANDROID_PUSH"] == set()


async def test_a_whole_user_write_read_before_a_device_change_runs_again(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    """An attribute write reads its user ahead of its transaction. If a device of the user
    changes in between, its replace must miss its guard, or it would write the old push
    types back. ``version`` stays what clients saw: a device change does not move it."""
    ios = {"pushRegistrationId": "watch", "platform": "IOS"}
    await _ok(gateway, tenant, SAVE, {"input": ios})
    installation = await store.installations.find_one({"appId": tenant.app_id, "pushRegistrationId": "watch"})
    assert installation is not None
    user_id = installation["userId"]
    before = await store.users.find_one({"_id": user_id})
    assert before is not None
    await _ok(gateway, tenant, SAVE, {"input": {**ios, "pushToken": TOKEN}})  # the device gains a token
    after = await store.users.find_one({"_id": user_id})
    assert after is not None and after["version"] == before["version"]
    assert after["channelTypes"] == ["IOS_PUSH"]

    async def stale_replace(unit: UnitOfWork) -> bool:
        return await users_domain.replace_if_unchanged(unit, before, {**before, "tags": ["late"]})

    assert await unit_of_work.run(store, stale_replace) is False
    stored = await store.users.find_one({"_id": user_id})
    assert stored is not None and stored["channelTypes"] == ["IOS_PUSH"] and stored.get("tags") == []


async def test_users_stored_before_get_their_device_types_once(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    with_token = _user_id(
        await _ok(
            gateway, tenant, SAVE, {"input": {"pushRegistrationId": "old-1", "platform": "IOS", "pushToken": TOKEN}}
        )
    )
    # A stored channel besides: the types stay one sorted list.
    await _ok(
        gateway, tenant, ADD, {"by": {"pushRegistrationId": "old-1"}, "channel": {"sms": {"phone": "+4915112345678"}}}
    )
    await _ok(gateway, tenant, SAVE, {"input": {"pushRegistrationId": "old-2", "platform": "IOS"}})  # no token
    await _ok(gateway, tenant, UPSERT, {"input": {"externalUserId": "no-device"}})
    # As an older gateway stored them: no deviceChannelTypes, channelTypes from stored channels only.
    await store.users.update_many(
        {"appId": tenant.app_id},
        {"$unset": {"deviceChannelTypes": "", "deviceVersion": ""}, "$pull": {"channelTypes": "IOS_PUSH"}},
    )
    await registry.collection(store).delete_one({"_id": users_store.DEVICE_TYPES_MARK})
    assert await _matched(gateway, tenant, "IOS_PUSH") == set()

    assert await backfill_device_channel_types(store) >= 1
    assert await _matched(gateway, tenant, "IOS_PUSH") == {with_token}
    await _assert_every_user_consistent(store, tenant)
    # Done once: not looked for at every start-up.
    assert await backfill_device_channel_types(store) == 0


async def test_a_device_back_fill_that_died_halfway_is_finished_by_the_next_start(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    """A process killed between two batches leaves some users set and no mark: the next start
    sets the rest and leaves alone the ones already set."""
    for prid in ("half-a", "half-b"):
        await _ok(
            gateway, tenant, SAVE, {"input": {"pushRegistrationId": prid, "platform": "ANDROID", "pushToken": prid * 8}}
        )
    await store.users.update_many(
        {"appId": tenant.app_id}, {"$unset": {"deviceChannelTypes": ""}, "$pull": {"channelTypes": "ANDROID_PUSH"}}
    )
    await registry.collection(store).delete_one({"_id": users_store.DEVICE_TYPES_MARK})
    done = await store.installations.find_one({"appId": tenant.app_id, "pushRegistrationId": "half-a"})
    assert done is not None
    dead_run = {"$set": {"deviceChannelTypes": ["ANDROID_PUSH"], "channelTypes": ["ANDROID_PUSH"]}}
    await store.users.update_one({"_id": done["userId"]}, dead_run)  # the dead run's batch

    before = await store.users.find_one({"_id": done["userId"]})
    assert await backfill_device_channel_types(store) >= 1  # half-b (and any older test's users)
    assert await store.users.find_one({"_id": done["userId"]}) == before  # left alone
    assert len(await _matched(gateway, tenant, "ANDROID_PUSH")) == 2
    await _assert_every_user_consistent(store, tenant)
