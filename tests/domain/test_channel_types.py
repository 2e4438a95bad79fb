"""``channelTypes``: the list of a user's channel types that the hasChannel filter matches.

Every write path that changes channels must keep it equal to the types of the stored
channels and of the push destinations the user's installations give it
(tests/domain/test_device_channel_types.py), or hasChannel silently misses users; users
stored before it existed get it once at start-up.
"""

from __future__ import annotations

from typing import Any

from app.domain.push_destinations import device_channel_types
from app.store import indexes, registry
from app.store import users as users_store
from app.store.client import Store
from tests.domain.test_device_channels import ADD, REMOVE, UPDATE
from tests.helpers import Gateway, Tenant
from tests.identity_ops import DEPERSONALIZE, MERGE, PERSONALIZE, SAVE, UPSERT

BULK = """
mutation($records: [UpsertUserInput!]!) {
  bulkUpsertUsers(records: $records) { failed }
}
"""
PAGE = """
query($type: ChannelType!) {
  users(first: 50, filter: {hasChannel: $type}) { nodes { externalUserId } userErrors { code } }
}
"""
IDS = "query($by: UserRef!) { user(by: $by) { channels { id type } } }"


async def _ok(gateway: Gateway, tenant: Tenant, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    data: dict[str, Any] = await gateway.data(query, variables, token=tenant.app_token)
    payload = next(iter(data.values()))
    assert not payload.get("userErrors") and not payload.get("failed"), payload
    return data


async def _assert_every_user_consistent(store: Store, tenant: Tenant) -> set[str]:
    """Each live user's channelTypes are its stored channels' types and the push types of its
    installations (deviceChannelTypes); returns every type seen."""
    seen: set[str] = set()
    async for user in store.users.find({"appId": tenant.app_id, "mergedInto": {"$exists": False}}):
        owned = await store.installations.find({"appId": tenant.app_id, "userId": user["_id"]}).to_list()
        devices = device_channel_types(owned)
        assert user.get("deviceChannelTypes", []) == devices, (user["_id"], user.get("deviceChannelTypes"), devices)
        types = sorted({channel["type"] for channel in user["channels"]} | set(devices))
        assert user.get("channelTypes") == types, (user["_id"], user.get("channelTypes"), types)
        seen.update(types)
    return seen


async def _with_channel(gateway: Gateway, tenant: Tenant, kind: str) -> list[str | None]:
    page = (await gateway.data(PAGE, {"type": kind}, token=tenant.app_token))["users"]
    assert page["userErrors"] == []
    return sorted(node["externalUserId"] or "" for node in page["nodes"])


async def test_every_channel_write_path_keeps_channel_types_in_step(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    email = {"email": {"address": "a@example.com"}}
    sms = {"sms": {"phone": "+4915112345678"}}
    whatsapp = {"whatsapp": {"phone": "+4915112345679"}}
    await _ok(gateway, tenant, UPSERT, {"input": {"externalUserId": "a", "channels": [email]}})
    await _ok(gateway, tenant, BULK, {"records": [{"externalUserId": "b", "channels": [sms]}, {"externalUserId": "c"}]})
    await _ok(
        gateway,
        tenant,
        ADD,
        {"by": {"externalUserId": "c"}, "channel": {"slack": {"userId": "U1", "accessToken": "x"}}},
    )
    await _ok(gateway, tenant, UPDATE, {"by": {"externalUserId": "a"}, "add": [sms], "unset": ["EMAIL"]})
    assert await _with_channel(gateway, tenant, "EMAIL") == []
    assert await _with_channel(gateway, tenant, "SMS") == ["a", "b"]
    assert await _with_channel(gateway, tenant, "SLACK") == ["c"]

    # An anonymous device's lead with a channel: personalize moves what the lead held to the
    # user it names, a merge unites two users' channels, depersonalize leaves them with it.
    await _ok(gateway, tenant, SAVE, {"input": {"pushRegistrationId": "dev", "platform": "ANDROID"}})
    await _ok(gateway, tenant, ADD, {"by": {"pushRegistrationId": "dev"}, "channel": email})
    assert await _with_channel(gateway, tenant, "EMAIL") == [""]
    await _ok(gateway, tenant, PERSONALIZE, {"prid": "dev", "identity": {"externalUserId": "c"}})
    assert await _with_channel(gateway, tenant, "EMAIL") == ["c"]
    await _ok(gateway, tenant, SAVE, {"input": {"pushRegistrationId": "dev2", "platform": "IOS"}})
    await _ok(gateway, tenant, ADD, {"by": {"pushRegistrationId": "dev2"}, "channel": whatsapp})
    await _ok(gateway, tenant, MERGE, {"target": {"externalUserId": "c"}, "source": {"pushRegistrationId": "dev2"}})
    assert await _with_channel(gateway, tenant, "WHATSAPP") == ["c"]
    await _ok(gateway, tenant, DEPERSONALIZE, {"prid": "dev"})
    assert await _with_channel(gateway, tenant, "EMAIL") == ["c"]

    channels = (await gateway.data(IDS, {"by": {"externalUserId": "c"}}, token=tenant.app_token))["user"]["channels"]
    slack = next(channel["id"] for channel in channels if channel["type"] == "SLACK")
    await _ok(gateway, tenant, REMOVE, {"by": {"externalUserId": "c"}, "id": slack})
    assert await _with_channel(gateway, tenant, "SLACK") == []
    assert await _assert_every_user_consistent(store, tenant) == {"EMAIL", "SMS", "WHATSAPP"}


async def test_users_stored_before_channel_types_get_them_once_at_start_up(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    await _ok(
        gateway, tenant, UPSERT, {"input": {"externalUserId": "old", "channels": [{"email": {"address": "o@x.io"}}]}}
    )
    await _ok(gateway, tenant, UPSERT, {"input": {"externalUserId": "plain"}})
    # As an older gateway stored them: no channelTypes, the index on channels.type, no mark.
    await store.users.update_many({"appId": tenant.app_id}, {"$unset": {"channelTypes": ""}})
    await store.users.create_index([("appId", 1), ("channels.type", 1), ("_id", 1)], name="channel_type")
    await registry.collection(store).delete_one({"_id": users_store.CHANNEL_TYPES_MARK})
    assert await _with_channel(gateway, tenant, "EMAIL") == []

    await indexes.ensure_indexes(store)
    assert await _with_channel(gateway, tenant, "EMAIL") == ["old"]
    await _assert_every_user_consistent(store, tenant)
    assert "channel_type" not in await store.users.index_information()
    # Done once: a user missing the field later is not looked for at every start-up.
    await store.users.update_many({"appId": tenant.app_id}, {"$unset": {"channelTypes": ""}})
    assert await users_store.backfill_channel_types(store) == 0


async def test_a_push_channel_from_an_installation_token_is_matched(gateway: Gateway, tenant: Tenant) -> None:
    await _ok(gateway, tenant, SAVE, {"input": {"pushRegistrationId": "d1", "platform": "IOS", "pushToken": "t" * 64}})
    await _ok(gateway, tenant, PERSONALIZE, {"prid": "d1", "identity": {"externalUserId": "x"}})
    channels = (await gateway.data(IDS, {"by": {"externalUserId": "x"}}, token=tenant.app_token))["user"]["channels"]
    assert [channel["type"] for channel in channels] == ["IOS_PUSH"]
    assert await _with_channel(gateway, tenant, "IOS_PUSH") == ["x"]


async def test_a_back_fill_that_died_halfway_is_finished_by_the_next_start(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    """A process killed between two batches leaves some users set and no mark: the next start
    sets the rest, and leaves alone what the first run (or a write since) already set."""
    for name in ("half-1", "half-2", "half-3"):
        channels = [{"sms": {"phone": "+4915112345678"}}] if name != "half-2" else []
        await _ok(gateway, tenant, UPSERT, {"input": {"externalUserId": name, "channels": channels}})
    await store.users.update_many({"appId": tenant.app_id}, {"$unset": {"channelTypes": ""}})
    await registry.collection(store).delete_one({"_id": users_store.CHANNEL_TYPES_MARK})
    first = await store.users.find_one({"appId": tenant.app_id, "channels.type": "SMS"})
    assert first is not None
    await store.users.update_one({"_id": first["_id"]}, {"$set": {"channelTypes": ["SMS"]}})  # the dead run's batch

    assert await users_store.backfill_channel_types(store) >= 2  # the other two (and any older test's users)
    await _assert_every_user_consistent(store, tenant)
    assert await _with_channel(gateway, tenant, "SMS") == ["half-1", "half-3"]
