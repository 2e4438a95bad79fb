"""Every mutation is one unit of work: a store failure at any of its write steps leaves the
store as it was, and a retry with the same Idempotency-Key then applies it exactly once.

Failures are injected through the unit of work's write hooks (each write step of a unit goes
through one), on the real store. A case first runs its mutation once with a counting hook to
learn its write steps, then fails each of them in a fresh app.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest
from bson import ObjectId
from pymongo.errors import AutoReconnect, OperationFailure

from app.graphql.ids import encode_id
from app.store import idempotency, registry, unit_of_work
from app.store.client import Store
from tests.conftest import new_tenant
from tests.helpers import Gateway, Tenant, error_codes, purge_now
from tests.identity_ops import DEPERSONALIZE, MERGE, PERSONALIZE, SAVE, UPSERT

Setup = Callable[[Gateway, Tenant], Awaitable[object]]


class InjectedFailure(AutoReconnect):
    """A network failure of the store (UNAVAILABLE for the client)."""


@dataclass
class Steps:
    fail_at: int | None = None
    seen: list[str] = field(default_factory=list)

    async def __call__(self, step: str) -> None:
        self.seen.append(step)
        if len(self.seen) == self.fail_at:
            raise InjectedFailure(f"injected at {step}")


@contextmanager
def hooked(steps: Steps) -> Iterator[Steps]:
    unit_of_work.WRITE_HOOKS.append(steps)
    try:
        yield steps
    finally:
        unit_of_work.WRITE_HOOKS.remove(steps)


async def snapshot(store: Store, app_id: str) -> dict[str, list[dict[str, Any]]]:
    """What the app has in the store (every collection a mutation of the app writes)."""
    result = {}
    for collection in (
        store.users,
        store.installations,
        store.history,
        store.sessions,
        store.preference_categories,
        store.app_keys,
        idempotency.collection(store),
        registry.collection(store),
    ):
        result[collection.name] = await collection.find({"appId": app_id}).sort("_id", 1).to_list()
    # A registry entry's _id starts with the app's id: compare what follows it.
    for entry in result[registry.collection(store).name]:
        entry["_id"] = entry["_id"].split("|", 1)[1]
    return result


# "device-<id>": the channel id of a device's push token.
_GENERATED = re.compile(r"^(device-)?([0-9a-f]{16,}|(app|key|ins|inst)_[0-9A-Za-z_-]+)(:.*)?$")


def _stable(state: Any) -> Any:
    """The state with what differs between two runs of one mutation (generated ids, times,
    secrets) blanked out."""
    if isinstance(state, dict):
        return {key: _stable(value) for key, value in state.items() if key not in ("claim", "secret")}
    if isinstance(state, list):
        return [_stable(value) for value in state]
    if isinstance(state, datetime):
        return "<time>"
    if isinstance(state, ObjectId):
        return "<id>"
    if isinstance(state, bytes):
        return "<bytes>"
    if isinstance(state, str) and _GENERATED.match(state):
        return "<id>"
    return state


async def _user(gateway: Gateway, tenant: Tenant, external_id: str = "u-1", **fields: Any) -> None:
    await gateway.data(UPSERT, {"input": {"externalUserId": external_id, **fields}}, token=tenant.app_token)


async def _with_device(gateway: Gateway, tenant: Tenant) -> None:
    await _user(gateway, tenant)
    await gateway.data(SAVE, {"input": {"pushRegistrationId": "dev-1", "platform": "IOS"}}, token=tenant.app_token)


async def _with_channel(gateway: Gateway, tenant: Tenant) -> None:
    await _user(gateway, tenant)
    await gateway.data(
        'mutation { addChannel(by: {externalUserId: "u-1"}, channel: {email: {address: "a@example.com"}})'
        " { userErrors { code } } }",
        token=tenant.app_token,
    )


async def _two_users(gateway: Gateway, tenant: Tenant) -> None:
    await _user(gateway, tenant, "u-1", tags=["a"])
    await _user(gateway, tenant, "u-2", emails=["two@example.com"])
    await gateway.data(SAVE, {"input": {"pushRegistrationId": "dev-2", "platform": "IOS"}}, token=tenant.app_token)
    await gateway.data(PERSONALIZE, {"prid": "dev-2", "identity": {"externalUserId": "u-2"}}, token=tenant.app_token)


async def _user_and_lead(gateway: Gateway, tenant: Tenant) -> None:
    await _user(gateway, tenant, "u-1", tags=["a"])
    await gateway.data(UPSERT, {"input": {"emails": ["lead@example.com"], "tags": ["b"]}}, token=tenant.app_token)
    await gateway.data(SAVE, {"input": {"pushRegistrationId": "dev-3", "platform": "WEB"}}, token=tenant.app_token)
    await gateway.data(
        PERSONALIZE,
        {"prid": "dev-3", "identity": {"emails": ["lead@example.com"]}, "keepAsLead": True},
        token=tenant.app_token,
    )


async def _anonymous_device(gateway: Gateway, tenant: Tenant) -> None:
    await _user(gateway, tenant, "known", emails=["known@example.com"], tags=["k"])
    await gateway.data(SAVE, {"input": {"pushRegistrationId": "dev-1", "platform": "ANDROID"}}, token=tenant.app_token)


async def _nothing(gateway: Gateway, tenant: Tenant) -> None:
    return None


async def _device_of_u1(gateway: Gateway, tenant: Tenant) -> None:
    await gateway.data(SAVE, {"input": {"pushRegistrationId": "dev-1", "platform": "ANDROID"}}, token=tenant.app_token)
    await gateway.data(PERSONALIZE, {"prid": "dev-1", "identity": {"externalUserId": "u-1"}}, token=tenant.app_token)
    await gateway.data(
        f'mutation {{ addChannel(by: {BY}, channel: {{androidPush: {{token: "t-0", pushRegistrationId: "dev-1"}}}}) '
        "{ userErrors { code } } }",
        token=tenant.app_token,
    )


USER_FIELDS = "user { id version tags } userErrors { code }"
BY = '{externalUserId: "u-1"}'

CASES: dict[str, tuple[Setup, str, dict[str, Any]]] = {
    "upsertUser creates": (_nothing, UPSERT, {"input": {"externalUserId": "u-1", "givenName": "Ada"}}),
    "upsertUser updates": (_user, UPSERT, {"input": {"externalUserId": "u-1", "givenName": "Ada"}}),
    "upsertUser with a Slack token": (
        _nothing,
        UPSERT,
        {"input": {"externalUserId": "u-1", "channels": [{"slack": {"userId": "U1", "accessToken": "xoxb-1"}}]}},
    ),
    "updateUser": (_user, f'mutation {{ updateUser(by: {BY}, patch: {{surname: "L"}}) {{ {USER_FIELDS} }} }}', {}),
    "addTags": (_user, f'mutation {{ addTags(by: {BY}, tags: ["x"]) {{ {USER_FIELDS} }} }}', {}),
    "removeTags": (
        lambda g, t: _user(g, t, tags=["x", "y"]),
        f'mutation {{ removeTags(by: {BY}, tags: ["x"]) {{ {USER_FIELDS} }} }}',
        {},
    ),
    "updateCustomAttributes increment": (
        _user,
        f'mutation {{ updateCustomAttributes(by: {BY}, ops: [{{increment: {{key: "n", amount: "1"}}}}]) '
        f"{{ {USER_FIELDS} }} }}",
        {},
    ),
    "updateInstallationCustomAttributes": (
        _with_device,
        'mutation { updateInstallationCustomAttributes(pushRegistrationId: "dev-1", '
        'ops: [{set: {key: "theme", value: {string: "dark"}}}]) { userErrors { code } } }',
        {},
    ),
    "addChannel": (
        _user,
        f'mutation {{ addChannel(by: {BY}, channel: {{email: {{address: "a@example.com"}}}}) {{ {USER_FIELDS} }} }}',
        {},
    ),
    "updateChannels": (
        _with_channel,
        f'mutation {{ updateChannels(by: {BY}, add: [{{sms: {{phone: "+4915112345678"}}}}], '
        f'remove: [{{value: {{type: EMAIL, address: "a@example.com"}}}}], unset: [SLACK]) {{ {USER_FIELDS} }} }}',
        {},
    ),
    "addChannel for a device": (
        _device_of_u1,
        f'mutation {{ addChannel(by: {BY}, channel: {{androidPush: {{token: "t-1", pushRegistrationId: "dev-1"}}}}) '
        f"{{ {USER_FIELDS} }} }}",
        {},
    ),
    "updateChannels for a device": (
        _device_of_u1,
        f'mutation {{ updateChannels(by: {BY}, add: [{{email: {{address: "a@example.com"}}}}], '
        f'remove: [{{value: {{type: ANDROID_PUSH, address: "t-0"}}}}]) {{ {USER_FIELDS} }} }}',
        {},
    ),
    "unsetChannels of a device": (
        _device_of_u1,
        f"mutation {{ unsetChannels(by: {BY}, types: [ANDROID_PUSH]) {{ {USER_FIELDS} }} }}",
        {},
    ),
    "upsertUser with a push channel for a device": (
        _device_of_u1,
        UPSERT,
        {
            "input": {
                "externalUserId": "u-1",
                "channels": [{"androidPush": {"token": "t-9", "pushRegistrationId": "dev-1"}}],
            }
        },
    ),
    "upsertUser with an email as externalUserId": (
        _nothing,
        UPSERT,
        {"input": {"externalUserId": "Ada@Example.com", "givenName": "Ada"}},
    ),
    "unsetChannels": (_with_channel, f"mutation {{ unsetChannels(by: {BY}, types: [EMAIL]) {{ {USER_FIELDS} }} }}", {}),
    "updatePreferences": (
        _user,
        f'mutation {{ updatePreferences(by: {BY}, input: {{language: "de", optedOutChannelTypes: [SMS]}}) '
        f"{{ {USER_FIELDS} }} }}",
        {},
    ),
    "definePreferenceCategory": (
        _nothing,
        'mutation { definePreferenceCategory(input: {name: "news"}) { userErrors { code } } }',
        {},
    ),
    "removePreferenceCategory": (
        lambda g, t: g.data(
            'mutation { definePreferenceCategory(input: {name: "news"}) { userErrors { code } } }', token=t.app_token
        ),
        'mutation { removePreferenceCategory(name: "news") { userErrors { code } } }',
        {},
    ),
    "saveInstallation creates": (_nothing, SAVE, {"input": {"pushRegistrationId": "dev-9", "platform": "IOS"}}),
    "saveInstallation updates": (
        _with_device,
        SAVE,
        {"input": {"pushRegistrationId": "dev-1", "platform": "IOS", "appVersion": "2"}},
    ),
    # The user's push types (hasChannel) are written at commit, in the same transaction.
    "saveInstallation adds a push token": (
        _with_device,
        SAVE,
        {"input": {"pushRegistrationId": "dev-1", "platform": "IOS", "pushToken": "t" * 64}},
    ),
    "setPrimaryInstallation": (
        _with_device,
        'mutation { setPrimaryInstallation(pushRegistrationId: "dev-1", primary: true) { userErrors { code } } }',
        {},
    ),
    "personalize absorbs a lead": (
        _anonymous_device,
        PERSONALIZE,
        {"prid": "dev-1", "identity": {"emails": ["known@example.com"]}},
    ),
    "personalize identifies": (_with_device, PERSONALIZE, {"prid": "dev-1", "identity": {"externalUserId": "new-1"}}),
    "depersonalize": (_two_users, DEPERSONALIZE, {"prid": "dev-2"}),
    "mergeUsers": (
        _user_and_lead,
        MERGE,
        {"target": {"externalUserId": "u-1"}, "source": {"email": "lead@example.com"}},
    ),
    "deleteUser": (_two_users, 'mutation { deleteUser(by: {externalUserId: "u-2"}) { userErrors { code } } }', {}),
    "bulkUpsertUsers": (
        lambda g, t: _user(g, t, "b-0"),
        "mutation($records: [UpsertUserInput!]!) { bulkUpsertUsers(records: $records) "
        "{ status total succeeded failed } }",
        {
            "records": [
                {"externalUserId": "b-0", "givenName": "Zed"},
                {"externalUserId": "b-1", "channels": [{"slack": {"incomingWebhookUrl": "https://hooks.slack.com/x"}}]},
                {"externalUserId": "b-2", "tags": ["t"]},
                {"externalUserId": "b-3", "emails": ["bad"]},
            ]
        },
    ),
}


@pytest.fixture
async def fresh_tenants(gateway: Gateway, admin_token: str) -> AsyncIterator[Callable[[], Awaitable[Tenant]]]:
    async def make() -> Tenant:
        return await new_tenant(gateway, admin_token, "atomicity")

    yield make


def _no_top_level_errors(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    assert '"userErrors":[{' not in response.text, body
    return body


@pytest.mark.parametrize("case", list(CASES))
async def test_a_failure_at_any_write_step_leaves_the_old_state_and_a_retry_applies_once(
    gateway: Gateway, store: Store, fresh_tenants: Callable[[], Awaitable[Tenant]], case: str
) -> None:
    setup, mutation, variables = CASES[case]
    # A clean run: what it writes, and the state it ends in.
    tenant = await fresh_tenants()
    await setup(gateway, tenant)
    before = await snapshot(store, tenant.app_id)
    with hooked(Steps()) as counting:
        _no_top_level_errors(
            await gateway.post(mutation, variables, token=tenant.app_token, headers={"idempotency-key": "k-1"})
        )
    complete = _stable(await snapshot(store, tenant.app_id))
    assert complete != _stable(before), "the mutation changed nothing"
    assert counting.seen, "the mutation wrote nothing through a unit of work"

    for fail_at in range(1, len(counting.seen) + 1):
        tenant = await fresh_tenants()
        await setup(gateway, tenant)
        before = await snapshot(store, tenant.app_id)
        headers = {"idempotency-key": f"k-{fail_at}"}
        with hooked(Steps(fail_at=fail_at)):
            failed = await gateway.post(mutation, variables, token=tenant.app_token, headers=headers)
        assert error_codes(failed.json()) == ["UNAVAILABLE"], (counting.seen[fail_at - 1], failed.json())
        assert await snapshot(store, tenant.app_id) == before, f"partial state after {counting.seen[fail_at - 1]}"

        retried = _no_top_level_errors(await gateway.post(mutation, variables, token=tenant.app_token, headers=headers))
        assert _stable(await snapshot(store, tenant.app_id)) == complete
        again = await gateway.post(mutation, variables, token=tenant.app_token, headers=headers)
        assert again.headers.get("idempotent-replayed") == "true"
        assert again.json() == retried
        assert _stable(await snapshot(store, tenant.app_id)) == complete


INCREMENT = (
    f'mutation {{ updateCustomAttributes(by: {BY}, ops: [{{increment: {{key: "n", amount: "1"}}}}]) '
    '{ user { customAttribute(key: "n") { value } } userErrors { code } } }'
)
READ_N = f'{{ user(by: {BY}) {{ customAttribute(key: "n") {{ value }} }} }}'


async def test_an_increment_whose_history_write_fails_counts_once_after_the_retry(
    gateway: Gateway, store: Store, tenant: Tenant
) -> None:
    await _user(gateway, tenant)
    headers = {"idempotency-key": "inc-1"}
    with hooked(Steps(fail_at=2)) as steps:  # 1: the update, 2: the history insert
        failed = await gateway.post(INCREMENT, token=tenant.app_token, headers=headers)
    assert steps.seen == ["update users", "insert history"]
    assert error_codes(failed.json()) == ["UNAVAILABLE"]
    assert (await gateway.data(READ_N, token=tenant.app_token))["user"]["customAttribute"] is None
    await gateway.post(INCREMENT, token=tenant.app_token, headers=headers)
    await gateway.post(INCREMENT, token=tenant.app_token, headers=headers)
    assert (await gateway.data(READ_N, token=tenant.app_token))["user"]["customAttribute"] == {"value": "1"}
    events = await store.history.count_documents({"appId": tenant.app_id, "kind": "UPDATED"})
    assert events == 1


async def test_a_change_whose_response_was_not_kept_is_not_applied_again(
    gateway: Gateway, store: Store, tenant: Tenant, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _user(gateway, tenant)
    headers = {"idempotency-key": "inc-2"}

    async def store_fails(*args: Any) -> None:
        raise InjectedFailure("the store failed after the commit")

    with monkeypatch.context() as patched:
        patched.setattr(idempotency, "complete", store_fails)
        first = await gateway.post(INCREMENT, token=tenant.app_token, headers=headers)
    assert first.json()["data"]["updateCustomAttributes"]["user"]["customAttribute"] == {"value": "1"}
    retry = await gateway.post(INCREMENT, token=tenant.app_token, headers=headers)
    assert retry.status_code == 409
    assert retry.json()["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_APPLIED"
    assert (await gateway.data(READ_N, token=tenant.app_token))["user"]["customAttribute"] == {"value": "1"}
    record = await idempotency.collection(store).find_one({"appId": tenant.app_id})
    assert record is not None and record["committed"] is True and len(record["userIds"]) == 1


@dataclass
class Conflicts:
    """The store refusing transactions as under load (mongoeco's words for a lost race)."""

    times: int
    seen: int = 0

    async def __call__(self, step: str) -> None:
        if self.seen < self.times:
            self.seen += 1
            raise OperationFailure("Write conflict during transaction commit")


@pytest.mark.parametrize(("refusals", "answer"), [(1, None), (10_000, "UNAVAILABLE")])
async def test_transactions_refused_under_load_are_retried_or_answered_unavailable(
    gateway: Gateway, store: Store, tenant: Tenant, refusals: int, answer: str | None
) -> None:
    await _anonymous_device(gateway, tenant)
    before = await snapshot(store, tenant.app_id)
    conflicts = Conflicts(refusals)
    unit_of_work.WRITE_HOOKS.append(conflicts)
    try:
        body = await gateway.execute(
            PERSONALIZE, {"prid": "dev-1", "identity": {"emails": ["known@example.com"]}}, token=tenant.app_token
        )
    finally:
        unit_of_work.WRITE_HOOKS.remove(conflicts)
    if answer is None:
        assert "errors" not in body and body["data"]["personalize"]["userErrors"] == []
    else:
        assert error_codes(body) == [answer]  # never INTERNAL_SERVER_ERROR
        assert await snapshot(store, tenant.app_id) == before


async def test_a_merge_answers_the_time_a_later_read_returns(gateway: Gateway, tenant: Tenant) -> None:
    await _user_and_lead(gateway, tenant)
    merged = await gateway.data(
        "mutation($t: UserRef!, $s: UserRef!) { mergeUsers(target: $t, source: $s) { user { updatedAt } } }",
        {"t": {"externalUserId": "u-1"}, "s": {"email": "lead@example.com"}},
        token=tenant.app_token,
    )
    read = await gateway.data(f"{{ user(by: {BY}) {{ updatedAt }} }}", token=tenant.app_token)
    assert merged["mergeUsers"]["user"]["updatedAt"] == read["user"]["updatedAt"]


DELETE = "mutation($by: UserRef!) { deleteUser(by: $by) { deletedUserId userErrors { code } } }"


@pytest.mark.parametrize("by", ["id", "pushRegistrationId"])
async def test_delete_user_finishes_an_erasure_that_stopped_halfway(
    gateway: Gateway, store: Store, tenant: Tenant, by: str
) -> None:
    # Left by an erasure that ran as separate deletes and stopped after the first one.
    await _two_users(gateway, tenant)
    user = await store.users.find_one({"appId": tenant.app_id, "externalUserId": "u-2"})
    assert user is not None
    await store.users.delete_one({"_id": user["_id"]})
    ref = {"id": encode_id("User", user["_id"])} if by == "id" else {"pushRegistrationId": "dev-2"}
    payload = (await gateway.data(DELETE, {"by": ref}, token=tenant.app_token))["deleteUser"]
    assert payload["userErrors"] == [] and payload["deletedUserId"] == encode_id("User", user["_id"])
    for collection in (store.installations, store.sessions):
        assert await collection.count_documents({"appId": tenant.app_id, "userId": user["_id"]}) == 0
    again = (await gateway.data(DELETE, {"by": ref}, token=tenant.app_token))["deleteUser"]
    assert again["userErrors"] == [{"code": "NOT_FOUND"}]  # its history's purge is due
    await purge_now(store)
    assert await store.history.count_documents({"appId": tenant.app_id, "userId": user["_id"]}) == 0
