"""Idempotency records as the unit of work marks them: a committed change is never run again,
and a request whose claim was taken over cannot commit."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.store import idempotency, unit_of_work
from app.store.client import Store
from app.store.errors import StoreBusy, is_unavailable
from app.store.unit_of_work import UnitOfWork
from tests.helpers import Tenant

TTL = timedelta(hours=1)


async def _age(store: Store, claim: idempotency.Claim, by: timedelta) -> None:
    record = await idempotency.collection(store).find_one({"_id": claim.record_id})
    assert record is not None
    await idempotency.collection(store).update_one(
        {"_id": claim.record_id}, {"$set": {"createdAt": record["createdAt"] - by}}
    )


async def _touch_user(store: Store, claim: idempotency.Claim, user_id: str) -> None:
    async def work(unit: UnitOfWork) -> None:
        await unit.insert_one(store.db["idempotency_probe"], {"_id": user_id})
        unit.touches(user_id)

    held = idempotency.hold(claim)
    try:
        await unit_of_work.run(store, work)
    finally:
        idempotency.let_go(held)


async def test_a_committed_claim_is_never_taken_over(store: Store, tenant: Tenant) -> None:
    claim, _ = await idempotency.claim(store, tenant.app_id, "k", "fp", TTL)
    assert claim is not None
    await _touch_user(store, claim, f"{tenant.app_id}-u1")
    await _age(store, claim, idempotency.ABANDONED_AFTER * 2)  # its process died after the commit
    again, recorded = await idempotency.claim(store, tenant.app_id, "k", "fp", TTL)
    assert again is None and recorded is not None
    assert (recorded.committed, recorded.finished, recorded.body) == (True, True, None)
    assert recorded.user_ids == (f"{tenant.app_id}-u1",)


async def test_an_abandoned_claim_without_a_commit_is_taken_over(store: Store, tenant: Tenant) -> None:
    claim, _ = await idempotency.claim(store, tenant.app_id, "k", "fp", TTL)
    assert claim is not None
    await _age(store, claim, idempotency.ABANDONED_AFTER * 2)
    again, recorded = await idempotency.claim(store, tenant.app_id, "k", "fp", TTL)
    assert again is not None and again.token != claim.token and recorded is None


async def test_a_request_whose_claim_was_taken_over_commits_nothing(store: Store, tenant: Tenant) -> None:
    first, _ = await idempotency.claim(store, tenant.app_id, "k", "fp", TTL)
    assert first is not None
    await _age(store, first, idempotency.ABANDONED_AFTER * 2)
    second, _ = await idempotency.claim(store, tenant.app_id, "k", "fp", TTL)
    assert second is not None
    with pytest.raises(StoreBusy) as refused:
        await _touch_user(store, first, f"{tenant.app_id}-late")
    assert is_unavailable(refused.value)  # the client is told to retry, and then gets the answer
    assert await store.db["idempotency_probe"].find_one({"_id": f"{tenant.app_id}-late"}) is None
