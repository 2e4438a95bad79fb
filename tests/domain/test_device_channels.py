"""A push token sent only with addChannel / updateChannels for an installation lives on that
installation: it follows the device to a new owner and the old owner keeps no copy."""

from __future__ import annotations

from typing import Any

from app.store.client import Store
from tests.commands import CommandLog
from tests.helpers import Gateway, Tenant
from tests.identity_ops import DEPERSONALIZE, MERGE, PERSONALIZE, SAVE

DEFINE = 'mutation { definePreferenceCategory(input: {name: "news", defaultOptedIn: true}) { userErrors { code } } }'
READ = """
query($by: UserRef!) { user(by: $by) {
  version
  channels { id type address provider optedIn installation { pushRegistrationId } }
  push: canReceive(category: "news", channel: ANDROID_PUSH)
} }
"""
ADD = """
mutation($by: UserRef!, $channel: ChannelInput!) {
  addChannel(by: $by, channel: $channel) { user { version } userErrors { code field } }
}
"""
UPDATE = """
mutation($by: UserRef!, $add: [ChannelInput!], $remove: [ChannelMatch!], $unset: [ChannelType!]) {
  updateChannels(by: $by, add: $add, remove: $remove, unset: $unset) {
    user { version channels { type address } } userErrors { code field }
  }
}
"""
REMOVE = """
mutation($by: UserRef!, $id: ID!) { removeChannel(by: $by, channelId: $id) { userErrors { code field } } }
"""
U1 = {"externalUserId": "u-1"}
U2 = {"externalUserId": "u-2"}


def _push(token: str, prid: str, **extra: Any) -> dict[str, Any]:
    return {"androidPush": {"token": token, "pushRegistrationId": prid, **extra}}


async def _read(gateway: Gateway, tenant: Tenant, by: dict[str, str]) -> dict[str, Any]:
    user: dict[str, Any] = (await gateway.data(READ, {"by": by}, token=tenant.app_token))["user"]
    return user


async def _device(gateway: Gateway, tenant: Tenant, prid: str, **fields: Any) -> None:
    await gateway.data(DEFINE, token=tenant.app_token)
    data = await gateway.data(
        SAVE, {"input": {"pushRegistrationId": prid, "platform": "ANDROID", **fields}}, token=tenant.app_token
    )
    assert data["saveInstallation"]["userErrors"] == []


async def _personalize(gateway: Gateway, tenant: Tenant, prid: str, external_id: str, force: bool = False) -> None:
    data = await gateway.data(
        PERSONALIZE, {"prid": prid, "identity": {"externalUserId": external_id}, "force": force}, token=tenant.app_token
    )
    assert data["personalize"]["userErrors"] == []


async def _add(gateway: Gateway, tenant: Tenant, by: dict[str, str], channel: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = (await gateway.data(ADD, {"by": by, "channel": channel}, token=tenant.app_token))[
        "addChannel"
    ]
    assert payload["userErrors"] == []
    return payload


async def _installation(store: Store, tenant: Tenant, prid: str) -> dict[str, Any]:
    found = await store.installations.find_one({"appId": tenant.app_id, "pushRegistrationId": prid})
    assert found is not None
    return found


async def _stored_channels(store: Store, tenant: Tenant, external_id: str) -> list[dict[str, Any]]:
    user = await store.users.find_one({"appId": tenant.app_id, "externalUserId": external_id})
    assert user is not None
    return list(user.get("channels", []))


async def _device_of_u1_with_added_token(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    await _device(gateway, tenant, "dev-a")
    await _personalize(gateway, tenant, "dev-a", "u-1")
    before = (await _read(gateway, tenant, U1))["version"]
    added = await _add(gateway, tenant, U1, _push("tok-a", "dev-a", provider="HUAWEI"))
    assert added["user"]["version"] == before + 1  # the user's channels changed as seen
    installation = await _installation(store, tenant, "dev-a")
    assert (installation["pushToken"], installation["pushProvider"]) == ("tok-a", "HUAWEI")
    assert await _stored_channels(store, tenant, "u-1") == []  # no copy on the user
    user = await _read(gateway, tenant, U1)
    assert [(c["type"], c["address"], c["provider"]) for c in user["channels"]] == [("ANDROID_PUSH", "tok-a", "HUAWEI")]
    assert user["push"] is True


async def test_an_added_token_follows_its_device_when_another_person_logs_in(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    await _device_of_u1_with_added_token(gateway, tenant, store)
    await _personalize(gateway, tenant, "dev-a", "u-2", force=True)
    old, new = await _read(gateway, tenant, U1), await _read(gateway, tenant, U2)
    assert (old["channels"], old["push"]) == ([], False)
    assert [c["address"] for c in new["channels"]] == ["tok-a"]
    assert new["push"] is True


async def test_an_added_token_leaves_with_a_remote_logout(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    await _device_of_u1_with_added_token(gateway, tenant, store)
    await _device(gateway, tenant, "dev-b")
    await _personalize(gateway, tenant, "dev-b", "u-1")
    # From device b, u-1 logs device a out.
    left = await gateway.data(DEPERSONALIZE, {"prid": "dev-a"}, token=tenant.app_token)
    anonymous = left["depersonalize"]["installation"]["user"]["id"]
    old = await _read(gateway, tenant, U1)
    assert (old["channels"], old["push"]) == ([], False)
    assert [c["address"] for c in (await _read(gateway, tenant, {"id": anonymous}))["channels"]] == ["tok-a"]


async def test_an_added_token_moves_to_the_merge_target(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    await _device(gateway, tenant, "dev-a")
    lead = {"prid": "dev-a", "identity": {"emails": ["lead@example.com"]}, "keepAsLead": True}
    assert (await gateway.data(PERSONALIZE, lead, token=tenant.app_token))["personalize"]["userErrors"] == []
    await _add(gateway, tenant, {"email": "lead@example.com"}, _push("tok-a", "dev-a"))
    await _device(gateway, tenant, "dev-b")
    await _personalize(gateway, tenant, "dev-b", "u-1")
    merged = await gateway.data(MERGE, {"target": U1, "source": {"email": "lead@example.com"}}, token=tenant.app_token)
    assert merged["mergeUsers"]["userErrors"] == []
    user = await _read(gateway, tenant, U1)
    assert [c["address"] for c in user["channels"]] == ["tok-a"]
    assert user["push"] is True
    assert await _stored_channels(store, tenant, "u-1") == []


async def test_disabling_push_on_the_device_makes_the_added_token_unreachable(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    await _device_of_u1_with_added_token(gateway, tenant, store)
    await _device(gateway, tenant, "dev-a", isPushRegistrationEnabled=False)
    user = await _read(gateway, tenant, U1)
    assert (user["channels"], user["push"]) == ([], False)
    # optedIn given with the channel is the device's push switch.
    await _add(gateway, tenant, U1, _push("tok-a", "dev-a", optedIn=True))
    assert (await _read(gateway, tenant, U1))["push"] is True
    await _add(gateway, tenant, U1, _push("tok-a", "dev-a", optedIn=False))
    assert (await _installation(store, tenant, "dev-a"))["isPushRegistrationEnabled"] is False
    assert (await _read(gateway, tenant, U1))["push"] is False


async def test_adding_the_same_token_again_changes_nothing(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    await _device_of_u1_with_added_token(gateway, tenant, store)
    version = (await _read(gateway, tenant, U1))["version"]
    again = await _add(gateway, tenant, U1, _push("tok-a", "dev-a", provider="HUAWEI"))
    assert again["user"]["version"] == version


async def test_removing_a_devices_channel_forgets_its_token(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    await _device_of_u1_with_added_token(gateway, tenant, store)
    by_value = {"value": {"type": "ANDROID_PUSH", "address": "tok-a"}}
    removed = await gateway.data(UPDATE, {"by": U1, "remove": [by_value]}, token=tenant.app_token)
    assert removed["updateChannels"]["userErrors"] == []
    assert "pushToken" not in await _installation(store, tenant, "dev-a")
    assert (await _read(gateway, tenant, U1))["push"] is False

    await _add(gateway, tenant, U1, _push("tok-b", "dev-a"))
    unset = await gateway.data(UPDATE, {"by": U1, "unset": ["ANDROID_PUSH"]}, token=tenant.app_token)
    assert unset["updateChannels"]["user"]["channels"] == []
    assert "pushToken" not in await _installation(store, tenant, "dev-a")

    await _add(gateway, tenant, U1, _push("tok-c", "dev-a"))
    channel_id = (await _read(gateway, tenant, U1))["channels"][0]["id"]
    assert (await gateway.data(REMOVE, {"by": U1, "id": channel_id}, token=tenant.app_token))["removeChannel"] == {
        "userErrors": []
    }
    assert (await _read(gateway, tenant, U1))["channels"] == []
    missing = await gateway.data(REMOVE, {"by": U1, "id": channel_id}, token=tenant.app_token)
    assert missing["removeChannel"]["userErrors"] == [{"code": "NOT_FOUND", "field": ["channelId"]}]


async def test_updating_channels_places_tokens_and_stores_the_rest_in_one_version(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    await _device(gateway, tenant, "dev-a")
    await _personalize(gateway, tenant, "dev-a", "u-1")
    version = (await _read(gateway, tenant, U1))["version"]
    add = [{"email": {"address": "a@example.com"}}, _push("tok-a", "dev-a"), _push("tok-x", "unknown-device")]
    data = await gateway.data(UPDATE, {"by": U1, "add": add}, token=tenant.app_token)
    assert data["updateChannels"]["userErrors"] == []
    assert data["updateChannels"]["user"]["version"] == version + 1
    assert (await _installation(store, tenant, "dev-a"))["pushToken"] == "tok-a"
    # A token for a device nobody registered stays a channel of the user, as given.
    assert [(c["type"], c.get("address")) for c in await _stored_channels(store, tenant, "u-1")] == [
        ("EMAIL", "a@example.com"),
        ("ANDROID_PUSH", "tok-x"),
    ]


async def test_a_token_for_someone_elses_device_never_reaches_that_device(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    await _device(gateway, tenant, "dev-a", pushToken="owner-token")
    await _personalize(gateway, tenant, "dev-a", "u-2")
    await gateway.data(
        'mutation { upsertUser(input: {externalUserId: "u-1"}) { userErrors { code } } }', token=tenant.app_token
    )
    await _add(gateway, tenant, U1, _push("intruder", "dev-a"))
    assert (await _installation(store, tenant, "dev-a"))["pushToken"] == "owner-token"
    assert [c["address"] for c in (await _read(gateway, tenant, U2))["channels"]] == ["owner-token"]
    assert (await _read(gateway, tenant, U1))["push"] is False


async def test_a_copy_stored_on_the_user_before_goes_when_the_device_takes_the_token(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    await _device(gateway, tenant, "dev-a")
    await _personalize(gateway, tenant, "dev-a", "u-1")
    legacy = {"id": "old-1", "type": "ANDROID_PUSH", "key": "token:old", "address": "old", "optedIn": True}
    await store.users.update_one(
        {"appId": tenant.app_id, "externalUserId": "u-1"},
        {"$set": {"channels": [{**legacy, "pushRegistrationId": "dev-a"}]}},
    )
    await _add(gateway, tenant, U1, _push("tok-a", "dev-a"))
    assert await _stored_channels(store, tenant, "u-1") == []
    assert [c["address"] for c in (await _read(gateway, tenant, U1))["channels"]] == ["tok-a"]


async def test_push_channels_in_a_profile_write_go_onto_the_device_too(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    await _device(gateway, tenant, "dev-a")
    await _personalize(gateway, tenant, "dev-a", "u-1")
    upsert = "mutation($input: UpsertUserInput!) { upsertUser(input: $input) { userErrors { code } } }"
    record = {"externalUserId": "u-1", "channels": [_push("tok-up", "dev-a"), {"email": {"address": "a@example.com"}}]}
    assert (await gateway.data(upsert, {"input": record}, token=tenant.app_token))["upsertUser"]["userErrors"] == []
    assert (await _installation(store, tenant, "dev-a"))["pushToken"] == "tok-up"
    assert [c["type"] for c in await _stored_channels(store, tenant, "u-1")] == ["EMAIL"]

    update = (
        "mutation($by: UserRef!, $patch: UserPatch!) { updateUser(by: $by, patch: $patch) { userErrors { code } } }"
    )
    patch = {"channels": [_push("tok-up2", "dev-a")]}
    assert (await gateway.data(update, {"by": U1, "patch": patch}, token=tenant.app_token))["updateUser"][
        "userErrors"
    ] == []
    assert (await _installation(store, tenant, "dev-a"))["pushToken"] == "tok-up2"
    assert [c["type"] for c in await _stored_channels(store, tenant, "u-1")] == ["EMAIL"]

    await _personalize(gateway, tenant, "dev-a", "u-2", force=True)
    assert (await _read(gateway, tenant, U1))["push"] is False
    assert [c["address"] for c in (await _read(gateway, tenant, U2))["channels"]] == ["tok-up2"]


async def test_only_push_channels_for_a_device_read_the_installations(
    gateway: Gateway, tenant: Tenant, store: Store, command_log: CommandLog
) -> None:
    await _device(gateway, tenant, "dev-a")
    await _personalize(gateway, tenant, "dev-a", "u-1")
    with command_log.recording() as email:
        await _add(gateway, tenant, U1, {"email": {"address": "a@example.com"}})
    assert (email["find installations"], email["update installations"]) == (0, 0)
    with command_log.recording() as push:
        await _add(gateway, tenant, U1, _push("tok-a", "dev-a"))
    # The second read is at commit: the push types the user's devices give it (hasChannel).
    assert (push["find installations"], push["update installations"]) == (2, 1)
