"""Installations are push destinations: a device's token is its owner's push channel, and moves with it."""

from __future__ import annotations

from typing import Any

from app.store.client import Store
from tests.helpers import Gateway, Tenant
from tests.identity_ops import DEPERSONALIZE, MERGE, PERSONALIZE, SAVE

READ = """
query($by: UserRef!) { user(by: $by) {
  channels { type address provider installation { pushRegistrationId } }
  push: canReceive(category: "news", channel: ANDROID_PUSH)
  primary: canReceive(category: "news", channel: ANDROID_PUSH, primaryOnly: true)
} }
"""
DEFINE = 'mutation { definePreferenceCategory(input: {name: "news", defaultOptedIn: true}) { userErrors { code } } }'
ADD_PUSH = """
mutation($by: UserRef!, $prid: String!) {
  addChannel(by: $by, channel: {androidPush: {token: "added-token", pushRegistrationId: $prid}}) {
    userErrors { code } } }
"""
CUSTOMER = {"externalUserId": "cust-1"}


async def _read(gateway: Gateway, tenant: Tenant, by: dict[str, str]) -> dict[str, Any]:
    data = await gateway.data(READ, {"by": by}, token=tenant.app_token)
    user: dict[str, Any] = data["user"]
    return user


async def _device(gateway: Gateway, tenant: Tenant, prid: str = "dev-1", **fields: Any) -> dict[str, Any]:
    await gateway.data(DEFINE, token=tenant.app_token)
    data = await gateway.data(
        SAVE, {"input": {"pushRegistrationId": prid, "platform": "ANDROID", **fields}}, token=tenant.app_token
    )
    assert data["saveInstallation"]["userErrors"] == []
    installation: dict[str, Any] = data["saveInstallation"]["installation"]
    return installation


async def _personalize(gateway: Gateway, tenant: Tenant, prid: str, external_id: str = "cust-1") -> None:
    data = await gateway.data(
        PERSONALIZE, {"prid": prid, "identity": {"externalUserId": external_id}}, token=tenant.app_token
    )
    assert data["personalize"]["userErrors"] == []


def _device_channel(token: str, prid: str = "dev-1", provider: str = "FCM") -> dict[str, Any]:
    return {
        "type": "ANDROID_PUSH",
        "address": token,
        "provider": provider,
        "installation": {"pushRegistrationId": prid},
    }


async def test_a_personalized_devices_token_is_its_users_push_destination(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    await _device(gateway, tenant, pushToken="fcm-1", pushProvider="huawei")
    await _personalize(gateway, tenant, "dev-1")
    user = await _read(gateway, tenant, CUSTOMER)
    assert user["channels"] == [_device_channel("fcm-1", provider="HUAWEI")]
    assert user["push"] is True
    stored = await store.users.find_one({"appId": tenant.app_id, "externalUserId": "cust-1"})
    assert stored is not None and stored.get("channels", []) == []  # derived, never copied


async def test_disabling_push_on_the_installation_makes_it_unreachable(gateway: Gateway, tenant: Tenant) -> None:
    await _device(gateway, tenant, pushToken="fcm-1")
    await _personalize(gateway, tenant, "dev-1")
    await _device(gateway, tenant, "dev-2")
    await _personalize(gateway, tenant, "dev-2")
    added = await gateway.data(ADD_PUSH, {"by": CUSTOMER, "prid": "dev-2"}, token=tenant.app_token)
    assert added["addChannel"]["userErrors"] == []
    assert len((await _read(gateway, tenant, CUSTOMER))["channels"]) == 2

    for prid in ("dev-1", "dev-2"):
        await _device(gateway, tenant, prid, isPushRegistrationEnabled=False)
    user = await _read(gateway, tenant, CUSTOMER)
    assert user["channels"] == []
    assert user["push"] is False


async def test_a_logout_takes_the_devices_channel_along(gateway: Gateway, tenant: Tenant) -> None:
    await _device(gateway, tenant, pushToken="fcm-1")
    await _personalize(gateway, tenant, "dev-1")
    left = await gateway.data(DEPERSONALIZE, {"prid": "dev-1"}, token=tenant.app_token)
    anonymous = left["depersonalize"]["installation"]["user"]["id"]

    before = await _read(gateway, tenant, CUSTOMER)
    assert before["channels"] == []
    assert before["push"] is False
    assert (await _read(gateway, tenant, {"id": anonymous}))["channels"] == [_device_channel("fcm-1")]


async def test_a_channel_added_for_a_device_leaves_with_the_device(gateway: Gateway, tenant: Tenant) -> None:
    await _device(gateway, tenant)
    await _personalize(gateway, tenant, "dev-1")
    await gateway.data(ADD_PUSH, {"by": CUSTOMER, "prid": "dev-1"}, token=tenant.app_token)
    assert (await _read(gateway, tenant, CUSTOMER))["push"] is True
    # Another person logs in on the device (a remote logout of cust-1).
    await gateway.data(
        PERSONALIZE,
        {"prid": "dev-1", "identity": {"externalUserId": "cust-2"}, "force": True},
        token=tenant.app_token,
    )
    user = await _read(gateway, tenant, CUSTOMER)
    assert user["channels"] == []
    assert user["push"] is False


async def test_a_merge_moves_the_devices_channel_to_the_target(gateway: Gateway, tenant: Tenant) -> None:
    await _device(gateway, tenant, pushToken="fcm-1")
    lead = {"prid": "dev-1", "identity": {"emails": ["lead@example.com"]}, "keepAsLead": True}
    assert (await gateway.data(PERSONALIZE, lead, token=tenant.app_token))["personalize"]["userErrors"] == []
    await _device(gateway, tenant, "dev-2")
    await _personalize(gateway, tenant, "dev-2")
    merged = await gateway.data(
        MERGE, {"target": CUSTOMER, "source": {"email": "lead@example.com"}}, token=tenant.app_token
    )
    assert merged["mergeUsers"]["userErrors"] == []
    assert (await _read(gateway, tenant, CUSTOMER))["channels"] == [_device_channel("fcm-1")]


async def test_primary_only_reaches_primary_devices_only(gateway: Gateway, tenant: Tenant) -> None:
    await _device(gateway, tenant, pushToken="fcm-1")
    await _personalize(gateway, tenant, "dev-1")
    user = await _read(gateway, tenant, CUSTOMER)
    assert (user["push"], user["primary"]) == (True, False)
    await gateway.data(
        'mutation { setPrimaryInstallation(pushRegistrationId: "dev-1", primary: true) { userErrors { code } } }',
        token=tenant.app_token,
    )
    user = await _read(gateway, tenant, CUSTOMER)
    assert (user["push"], user["primary"]) == (True, True)
