"""A user holds at most MAX_INSTALLATIONS_PER_USER installations.

The attack: an end user's own token may personalize any anonymous installation into its own
profile (that is a login), and anyone with the public app id may register installations. So
one person's profile could gather every installation an attacker registers, and every read of
its installations and push channels, every merge and every erasure of it would grow with
them. One more than the limit is LIMIT_EXCEEDED, and nothing is stored. The limit is lowered
here so that a test needs a few installations, not a hundred."""

from __future__ import annotations

import asyncio

import pytest
from bson import ObjectId

from app.domain import clock, limits
from app.store.client import Store
from tests.helpers import Gateway, Tenant
from tests.identity_ops import MERGE, UPSERT, personalize, register, register_anonymous, user_by

LIMIT = 3


@pytest.fixture(autouse=True)
def small_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_INSTALLATIONS_PER_USER", LIMIT)


async def _devices(gateway: Gateway, tenant: Tenant, external_id: str) -> list[str]:
    user = await user_by(gateway, tenant, externalUserId=external_id)
    assert user is not None
    return sorted(item["pushRegistrationId"] for item in user["installations"])


async def test_a_user_token_cannot_gather_more_installations_than_the_limit(gateway: Gateway, tenant: Tenant) -> None:
    token = tenant.user_token("collector")
    for n in range(LIMIT):
        await register_anonymous(gateway, tenant, f"collect-{n}")
        done = await personalize(gateway, tenant, f"collect-{n}", {"externalUserId": "collector"}, token=token)
        assert done["userErrors"] == [], done
    lead_installation, _ = await register_anonymous(gateway, tenant, "collect-extra")
    refused = await personalize(gateway, tenant, "collect-extra", {"externalUserId": "collector"}, token=token)
    assert [(error["code"], error["field"]) for error in refused["userErrors"]] == [
        ("LIMIT_EXCEEDED", ["pushRegistrationId"])
    ]
    assert refused["user"] is None
    assert await _devices(gateway, tenant, "collector") == [f"collect-{n}" for n in range(LIMIT)]
    # Nothing moved: the installation still has its anonymous lead.
    lead = await user_by(gateway, tenant, id=lead_installation["user"]["id"])
    assert lead is not None and [item["pushRegistrationId"] for item in lead["installations"]] == ["collect-extra"]


async def test_a_merge_that_would_pass_the_limit_is_refused_and_changes_nothing(
    gateway: Gateway, tenant: Tenant
) -> None:
    await register(gateway, tenant, "mt-1")
    await register(gateway, tenant, "mt-2")
    assert (await personalize(gateway, tenant, "mt-1", {"externalUserId": "mt-keeper"}))["userErrors"] == []
    assert (await personalize(gateway, tenant, "mt-2", {"externalUserId": "mt-keeper"}))["userErrors"] == []
    first, _ = await register_anonymous(gateway, tenant, "ms-1")
    second, _ = await register_anonymous(gateway, tenant, "ms-2")
    # One lead with both devices: the second lead merged into the first.
    joined = await gateway.data(
        MERGE, {"target": {"id": first["user"]["id"]}, "source": {"id": second["user"]["id"]}}, token=tenant.app_token
    )
    assert joined["mergeUsers"]["userErrors"] == []
    answer = await gateway.data(
        MERGE,
        {"target": {"externalUserId": "mt-keeper"}, "source": {"id": first["user"]["id"]}},
        token=tenant.app_token,
    )
    assert [(error["code"], error["field"]) for error in answer["mergeUsers"]["userErrors"]] == [
        ("LIMIT_EXCEEDED", ["source"])
    ]
    assert await _devices(gateway, tenant, "mt-keeper") == ["mt-1", "mt-2"]
    lead = await user_by(gateway, tenant, id=first["user"]["id"])
    assert lead is not None and sorted(item["pushRegistrationId"] for item in lead["installations"]) == ["ms-1", "ms-2"]


async def test_moving_a_personalized_installation_to_a_full_user_is_refused(gateway: Gateway, tenant: Tenant) -> None:
    for n in range(LIMIT):
        await register(gateway, tenant, f"full-{n}")
        assert (await personalize(gateway, tenant, f"full-{n}", {"externalUserId": "full"}))["userErrors"] == []
    await register(gateway, tenant, "elsewhere")
    assert (await personalize(gateway, tenant, "elsewhere", {"externalUserId": "other"}))["userErrors"] == []
    moved = await personalize(gateway, tenant, "elsewhere", {"externalUserId": "full"}, force=True)
    assert [error["code"] for error in moved["userErrors"]] == ["LIMIT_EXCEEDED"]
    assert await _devices(gateway, tenant, "other") == ["elsewhere"]


async def test_a_user_stored_over_the_limit_still_merges_a_user_without_installations(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    await register(gateway, tenant, "legacy-0")
    assert (await personalize(gateway, tenant, "legacy-0", {"externalUserId": "legacy"}))["userErrors"] == []
    holder = await store.users.find_one({"appId": tenant.app_id, "externalUserId": "legacy"})
    assert holder is not None
    # Stored before the limit existed: more installations than it allows.
    now = clock.now()
    await store.installations.insert_many(
        [
            {
                "_id": str(ObjectId()),
                "appId": tenant.app_id,
                "userId": holder["_id"],
                "pushRegistrationId": f"legacy-extra-{n}",
                "platform": "ANDROID",
                "isPrimaryDevice": False,
                "createdAt": now,
            }
            for n in range(LIMIT + 1)
        ]
    )
    created = await gateway.data(UPSERT, {"input": {"emails": ["plain@example.com"]}}, token=tenant.app_token)
    assert created["upsertUser"]["userErrors"] == []
    pair = {"target": {"externalUserId": "legacy"}, "source": {"email": "plain@example.com"}}
    answer = await gateway.data(MERGE, pair, token=tenant.app_token)
    assert answer["mergeUsers"]["userErrors"] == []


async def test_two_logins_at_once_on_a_nearly_full_user_let_one_in(gateway: Gateway, tenant: Tenant) -> None:
    token = tenant.user_token("racer")
    for n in range(LIMIT - 1):
        await register_anonymous(gateway, tenant, f"race-{n}")
        assert (await personalize(gateway, tenant, f"race-{n}", {"externalUserId": "racer"}, token=token))[
            "userErrors"
        ] == []
    await register_anonymous(gateway, tenant, "race-a")
    await register_anonymous(gateway, tenant, "race-b")
    answers = await asyncio.gather(
        *(personalize(gateway, tenant, prid, {"externalUserId": "racer"}, token=token) for prid in ("race-a", "race-b"))
    )
    codes = sorted(tuple(error["code"] for error in answer["userErrors"]) for answer in answers)
    assert codes == [(), ("LIMIT_EXCEEDED",)], answers
    assert len(await _devices(gateway, tenant, "racer")) == LIMIT
