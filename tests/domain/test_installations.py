"""saveInstallation, installation(pushRegistrationId:), User.installations and
setPrimaryInstallation."""

from __future__ import annotations

import asyncio

import pytest

from app.auth.authenticate import hash_session_token
from app.store import registry
from app.store.client import Store
from tests.commands import CommandLog
from tests.helpers import Gateway, Tenant
from tests.identity_ops import (
    SAVE,
    assert_forbidden,
    register,
    register_anonymous,
    session_headers,
)

INSTALLATION = """
query($prid: String!) {
  installation(pushRegistrationId: $prid) { pushRegistrationId hasPushToken pushToken user { id } }
}
"""

SET_PRIMARY = """
mutation($prid: String!, $primary: Boolean!) {
  setPrimaryInstallation(pushRegistrationId: $prid, primary: $primary) {
    installation { pushRegistrationId isPrimaryDevice }
    userErrors { code field }
  }
}
"""


async def test_new_installation_gets_an_empty_anonymous_lead(gateway: Gateway, tenant: Tenant) -> None:
    installation = await register(
        gateway,
        tenant,
        "dev-1",
        pushToken="tok-1",
        pushProvider="fcm",
        appVersion="2.1",
        language="de-DE",
        timezone="Europe/Berlin",
        customAttributes=[{"key": "theme", "value": {"string": "dark"}}],
    )
    assert installation["platform"] == "ANDROID"
    assert installation["pushProvider"] == "FCM"
    assert installation["hasPushToken"] is True
    assert installation["pushToken"] == "tok-1"  # app scope sees the token
    assert installation["isPushRegistrationEnabled"] is True
    assert installation["isPrimaryDevice"] is False
    assert installation["customAttributes"] == [{"key": "theme", "type": "STRING", "value": "dark"}]
    assert installation["user"]["type"] == "LEAD"
    assert installation["user"]["externalUserId"] is None


async def test_saving_again_updates_the_same_installation(gateway: Gateway, tenant: Tenant) -> None:
    first = await register(gateway, tenant, "dev-1", appVersion="1.0")
    second = await register(gateway, tenant, "dev-1", appVersion="1.1", os="Android")
    assert second["id"] == first["id"]
    assert second["user"]["id"] == first["user"]["id"]
    assert (second["appVersion"], second["os"], second["language"]) == ("1.1", "Android", None)
    assert second["lastSeenAt"] > first["lastSeenAt"]


async def test_bad_installation_input_is_refused_and_nothing_stored(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    body = await gateway.data(
        SAVE,
        {
            "input": {
                "pushRegistrationId": "dev-x",
                "platform": "WEB",
                "pushProvider": "pigeon",
                "timezone": "Mars/Olympus",
                "customAttributes": [{"key": "$where", "value": {"string": "x"}}],
            }
        },
        token=tenant.app_token,
    )
    errors = body["saveInstallation"]["userErrors"]
    assert sorted(tuple(e["field"]) for e in errors) == [
        ("input", "customAttributes", "0", "key"),
        ("input", "pushProvider"),
        ("input", "timezone"),
    ]
    assert await store.installations.count_documents({"appId": tenant.app_id}) == 0
    assert await store.users.count_documents({"appId": tenant.app_id}) == 0


@pytest.mark.parametrize("timezone", ["America", "posixrules", "../../etc/passwd", "x" * 300])
async def test_time_zones_that_name_files_are_refused_not_crashed_on(
    gateway: Gateway, tenant: Tenant, store: Store, timezone: str
) -> None:
    # ZoneInfo(value) would read these as paths (a directory, a non-zone file, an escape).
    body = await gateway.data(
        SAVE,
        {"input": {"pushRegistrationId": "dev-tz", "platform": "IOS", "timezone": timezone}},
        token=tenant.app_token,
    )
    errors = body["saveInstallation"]["userErrors"]
    assert [(e["code"], e["field"]) for e in errors] == [("INVALID_INPUT", ["input", "timezone"])]
    assert await store.installations.count_documents({"appId": tenant.app_id}) == 0


async def test_anonymous_registration_returns_a_session_token_stored_only_as_hash(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    installation, token = await register_anonymous(gateway, tenant, "phone-1", pushToken="secret-token")
    stored = await store.sessions.find_one({"appId": tenant.app_id})
    assert stored is not None
    assert stored["_id"] == hash_session_token(token)
    assert token not in str(stored)
    me = await gateway.data(
        "query { me { id type installations { pushRegistrationId hasPushToken pushToken } } }",
        headers=session_headers(token),
    )
    assert me["me"]["id"] == installation["user"]["id"]
    # The push token is write-only for the device's own session.
    assert me["me"]["installations"] == [{"pushRegistrationId": "phone-1", "hasPushToken": True, "pushToken": None}]


async def test_anonymous_caller_cannot_take_over_a_registered_installation(gateway: Gateway, tenant: Tenant) -> None:
    await register(gateway, tenant, "dev-1")
    body = await gateway.data(
        SAVE,
        {"input": {"pushRegistrationId": "dev-1", "platform": "IOS"}},
        headers={"x-app-id": tenant.app_id},
    )
    payload = body["saveInstallation"]
    assert payload["installation"] is None and payload["sessionToken"] is None
    assert [e["code"] for e in payload["userErrors"]] == ["FORBIDDEN"]
    # X-App-Id alone reaches nothing else.
    other = await gateway.execute(INSTALLATION, {"prid": "dev-1"}, headers={"x-app-id": tenant.app_id})
    assert_forbidden(other)


async def test_session_updates_only_its_own_installation(gateway: Gateway, tenant: Tenant) -> None:
    _, token = await register_anonymous(gateway, tenant, "phone-1")
    await register(gateway, tenant, "phone-2")
    own = await gateway.data(
        SAVE,
        {"input": {"pushRegistrationId": "phone-1", "platform": "IOS", "pushToken": "new"}},
        headers=session_headers(token),
    )
    assert own["saveInstallation"]["installation"]["hasPushToken"] is True
    for prid in ("phone-2", "phone-3"):  # someone else's, and a new one
        body = await gateway.execute(
            SAVE,
            {"input": {"pushRegistrationId": prid, "platform": "IOS"}},
            headers=session_headers(token),
        )
        assert_forbidden(body)


async def test_installation_query_by_scope(gateway: Gateway, tenant: Tenant, other_tenant: Tenant) -> None:
    installation = await register(gateway, tenant, "dev-1", pushToken="tok")
    _, token = await register_anonymous(gateway, tenant, "dev-2")
    app_view = await gateway.data(INSTALLATION, {"prid": "dev-1"}, token=tenant.app_token)
    assert app_view["installation"]["user"]["id"] == installation["user"]["id"]
    missing = await gateway.data(INSTALLATION, {"prid": "nope"}, token=tenant.app_token)
    assert missing["installation"] is None
    # Another app's installation does not exist for the caller.
    foreign = await gateway.data(INSTALLATION, {"prid": "dev-1"}, token=other_tenant.app_token)
    assert foreign["installation"] is None
    # A session sees its own installation and nothing of another user's.
    mine = await gateway.data(INSTALLATION, {"prid": "dev-2"}, headers=session_headers(token))
    assert mine["installation"]["pushRegistrationId"] == "dev-2"
    theirs = await gateway.execute(INSTALLATION, {"prid": "dev-1"}, headers=session_headers(token))
    assert_forbidden(theirs)
    stranger = await gateway.execute(INSTALLATION, {"prid": "dev-1"}, token=tenant.user_token("someone"))
    assert_forbidden(stranger)


async def _round_trips_for_user_with(
    gateway: Gateway, tenant: Tenant, command_log: CommandLog, devices: int
) -> tuple[int, int]:
    target = (await register(gateway, tenant, f"n{devices}-0"))["user"]["id"]
    for index in range(1, devices):
        await register(gateway, tenant, f"n{devices}-{index}")
        await gateway.data(
            "mutation($t: UserRef!, $s: UserRef!) { mergeUsers(target: $t, source: $s) { userErrors { code } } }",
            {"t": {"id": target}, "s": {"pushRegistrationId": f"n{devices}-{index}"}},
            token=tenant.app_token,
        )
    query = """query($id: ID!) { user(by: {id: $id}) {
        installations { pushRegistrationId user { id installations { pushRegistrationId } } } } }"""
    with command_log.recording() as commands:
        data = await gateway.data(query, {"id": target}, token=tenant.app_token)
    assert len(data["user"]["installations"]) == devices
    return commands["find installations"], commands["find users"]


async def test_installation_lists_do_not_grow_round_trips(
    gateway: Gateway, tenant: Tenant, command_log: CommandLog
) -> None:
    # The DataLoaders batch and cache per request: one installation or five, the same round trips.
    assert await _round_trips_for_user_with(gateway, tenant, command_log, 1) == (1, 2)
    assert await _round_trips_for_user_with(gateway, tenant, command_log, 5) == (1, 2)


async def _a_and_b_under_one_user(gateway: Gateway, tenant: Tenant) -> None:
    """Installations "a" and "b", then "a"'s user merged into "b"'s."""
    await register(gateway, tenant, "a")
    user_id = (await register(gateway, tenant, "b"))["user"]["id"]
    await gateway.data(
        "mutation($t: UserRef!, $s: UserRef!) { mergeUsers(target: $t, source: $s) { userErrors { code } } }",
        {"t": {"id": user_id}, "s": {"pushRegistrationId": "a"}},
        token=tenant.app_token,
    )


async def test_at_most_one_primary_installation_per_user(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    # "a" and "b" under one user; then switch the primary flag around.
    await _a_and_b_under_one_user(gateway, tenant)
    for prid in ("a", "b", "a"):
        data = await gateway.data(SET_PRIMARY, {"prid": prid, "primary": True}, token=tenant.app_token)
        assert data["setPrimaryInstallation"]["installation"]["isPrimaryDevice"] is True
        primaries = await store.installations.distinct(
            "pushRegistrationId", {"appId": tenant.app_id, "isPrimaryDevice": True}
        )
        assert primaries == [prid]
    data = await gateway.data(SET_PRIMARY, {"prid": "a", "primary": False}, token=tenant.app_token)
    assert data["setPrimaryInstallation"]["installation"]["isPrimaryDevice"] is False
    missing = await gateway.data(SET_PRIMARY, {"prid": "zzz", "primary": True}, token=tenant.app_token)
    assert missing["setPrimaryInstallation"]["userErrors"] == [{"code": "NOT_FOUND", "field": ["pushRegistrationId"]}]


async def test_the_store_itself_refuses_a_second_primary(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    import pytest
    from pymongo.errors import DuplicateKeyError

    await _a_and_b_under_one_user(gateway, tenant)
    await gateway.data(SET_PRIMARY, {"prid": "a", "primary": True}, token=tenant.app_token)
    with pytest.raises(DuplicateKeyError):
        await store.installations.update_one(
            {"appId": tenant.app_id, "pushRegistrationId": "b"}, {"$set": {"isPrimaryDevice": True}}
        )


async def test_installation_as_a_node(gateway: Gateway, tenant: Tenant) -> None:
    installation, token = await register_anonymous(gateway, tenant, "phone-1")
    other = await register(gateway, tenant, "phone-2")
    query = "query($id: ID!) { node(id: $id) { id ... on Installation { pushRegistrationId } } }"
    found = await gateway.data(query, {"id": installation["id"]}, token=tenant.app_token)
    assert found["node"] == {"id": installation["id"], "pushRegistrationId": "phone-1"}
    own = await gateway.data(query, {"id": installation["id"]}, headers=session_headers(token))
    assert own["node"]["pushRegistrationId"] == "phone-1"
    assert_forbidden(await gateway.execute(query, {"id": other["id"]}, headers=session_headers(token)))


async def test_primary_installation_by_scope(gateway: Gateway, tenant: Tenant) -> None:
    _, token = await register_anonymous(gateway, tenant, "phone-1")
    await register(gateway, tenant, "phone-2")
    own = await gateway.data(SET_PRIMARY, {"prid": "phone-1", "primary": True}, headers=session_headers(token))
    assert own["setPrimaryInstallation"]["installation"]["isPrimaryDevice"] is True
    for kwargs in ({"headers": session_headers(token)}, {"token": tenant.user_token("x")}):
        assert_forbidden(await gateway.execute(SET_PRIMARY, {"prid": "phone-2", "primary": True}, **kwargs))
    untouched = await gateway.data(INSTALLATION_PRIMARY, token=tenant.app_token)
    assert untouched["installation"]["isPrimaryDevice"] is False


INSTALLATION_PRIMARY = 'query { installation(pushRegistrationId: "phone-2") { isPrimaryDevice } }'


async def test_one_device_registered_concurrently_is_one_installation(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    """pushRegistrationId is unique through the registry (no unique index on installations):
    eight parallel first registrations of one device leave one installation and one entry."""
    variables = {"input": {"pushRegistrationId": "dev-race", "platform": "ANDROID"}}
    results = await asyncio.gather(*(gateway.data(SAVE, variables, token=tenant.app_token) for _ in range(8)))
    assert all(result["saveInstallation"]["userErrors"] == [] for result in results)
    stored = [doc async for doc in store.installations.find({"appId": tenant.app_id, "pushRegistrationId": "dev-race"})]
    assert len(stored) == 1
    entry = await registry.collection(store).find_one({"_id": registry.installation_key(tenant.app_id, "dev-race")})
    assert entry is not None and entry["installationId"] == stored[0]["_id"]


async def test_a_device_erased_with_its_user_can_register_again(gateway: Gateway, tenant: Tenant, store: Store) -> None:
    first = await register(gateway, tenant, "dev-erased")
    erase = "mutation($id: ID!) { deleteUser(by: {id: $id}) { userErrors { code } } }"
    data = await gateway.data(erase, {"id": first["user"]["id"]}, token=tenant.app_token)
    assert data["deleteUser"]["userErrors"] == []
    assert (
        await registry.collection(store).find_one({"_id": registry.installation_key(tenant.app_id, "dev-erased")})
        is None
    )
    again = await register(gateway, tenant, "dev-erased")
    assert again["id"] != first["id"] and again["user"]["id"] != first["user"]["id"]
