"""Housekeeping's pass over anonymous leads: off unless a retention is set, then one pass over
every app's users at a time, in rounds within the round's budget, a pass a day."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from app.config import Settings
from app.domain import clock, devices
from app.domain.actor import Actor
from app.domain.housekeeping import (
    LEAD_CLAIM_RETRY,
    LEAD_PASS_LEASE,
    LEAD_SWEEP_EVERY,
    LEAD_SWEEP_JOB,
    Housekeeping,
)
from app.domain.installation_data import InstallationData, Platform
from app.domain.lead_retention import ERASURE_COST
from app.domain.webhooks_dispatcher import Dispatcher
from app.main import Runtime
from app.observability.metrics import Metrics
from app.store import outbox, schedules
from app.store.client import Store
from tests.commands import CommandLog
from tests.events.test_dispatcher_cost import own_database
from tests.events.test_webhooks import runtime

__all__ = ["own_database", "runtime"]  # fixtures

Own = tuple[Store, CommandLog, Settings]
ANONYMOUS = Actor("anonymous")


async def _leads(store: Store, app_id: str, count: int) -> None:
    """An app and ``count`` anonymous leads, each registered by its device."""
    await store.apps.insert_one({"_id": app_id, "name": app_id})
    for number in range(count):
        data = InstallationData(push_registration_id=f"{app_id}-device-{number}", platform=Platform.IOS)
        await devices.save_installation(store, app_id, ANONYMOUS, data, may_update=False, issue_session=True)


def _walks(sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The pass's reads of users (the rule's fields, in id order)."""
    return [command for command in sent if command.get("find") == "users" and "type" in command.get("projection", {})]


async def _users(store: Store) -> int:
    return await store.users.count_documents({})


async def test_leads_are_kept_unless_a_retention_is_set(own_database: Own) -> None:
    store, _, _ = own_database
    await _leads(store, "app_kept", 3)
    much_later = clock.now() + timedelta(days=3650)
    housekeeping = Housekeeping(store, 7, first_retention_after=timedelta(0))
    await housekeeping.run(much_later)
    await housekeeping.run(much_later + timedelta(days=1))
    assert await _users(store) == 3


async def test_a_pass_walks_every_app_in_rounds_within_the_budget(own_database: Own) -> None:
    store, log, _ = own_database
    await _leads(store, "app_a", 15)
    await _leads(store, "app_b", 12)
    now = clock.now()
    # Change events are kept longer than the test spans, so the rounds are the walk's alone.
    erased: list[int] = []  # what the process's metrics are told
    housekeeping = Housekeeping(
        store,
        36_500,
        lead_retention_days=30,
        round_budget=20,
        first_retention_after=timedelta(0),
        on_leads_erased=erased.append,
    )

    # Just short of thirty days on, nothing is idle yet; the pass still reads every user, in
    # steps of 10 (half the round's budget), over several rounds.
    first_pass = now + timedelta(days=30) - timedelta(seconds=1)
    with log.capturing() as sent:
        rounds = 0
        while (touched := await housekeeping.run(first_pass)) > 0:
            assert touched <= 20
            rounds += 1
    reads = [command for command in sent if command.get("find") == "users"]
    assert all(command["limit"] == 10 for command in reads), reads
    # No candidate, no read of installations (an empty $in read all of them on the embedded store).
    assert not [command for command in sent if command.get("find") == "installations"]
    assert rounds >= 3 and await _users(store) == 27

    # The next pass waits a day; by then everyone has been idle for thirty days.
    next_pass = first_pass + LEAD_SWEEP_EVERY
    assert await housekeeping.run(next_pass - timedelta(seconds=1)) == 0
    assert await _users(store) == 27
    while (touched := await housekeeping.run(next_pass)) > 0:
        assert touched <= 20  # reads, and erasures at ten documents each
    assert await _users(store) == 0
    assert erased and sum(erased) == 27
    assert await store.installations.count_documents({}) == 0
    assert await store.sessions.count_documents({}) == 0


async def test_of_several_processes_one_runs_each_days_pass(own_database: Own) -> None:
    store, log, _ = own_database
    await _leads(store, "app_c", 6)
    later = clock.now() + timedelta(days=31)
    sweepers = [
        Housekeeping(store, 36_500, lead_retention_days=30, first_retention_after=timedelta(0)) for _ in range(3)
    ]
    with log.capturing() as sent:
        touched = await asyncio.gather(*(sweeper.run(later) for sweeper in sweepers))
    assert sorted(touched) == [0, 0, 6 + 6 * ERASURE_COST]  # one read every user and erased the leads
    walks = _walks(sent)
    assert len(walks) == 1, walks  # the app's users, read by one process
    assert await _users(store) == 0
    deleted = await outbox.events(store).count_documents({"appId": "app_c", "type": "user.deleted"})
    assert deleted == 6
    # The next day's pass goes to whichever process asks first once it is due.
    await _leads(store, "app_d", 2)
    next_day = later + LEAD_SWEEP_EVERY + timedelta(days=31)
    with log.capturing() as sent:
        for sweeper in sweepers:
            await sweeper.run(next_day)
    walks = _walks(sent)
    assert sorted(walk["filter"]["appId"] for walk in walks) == ["app_c", "app_d"], walks  # one pass
    assert await _users(store) == 0


async def test_a_claim_is_taken_once_per_period(own_database: Own) -> None:
    store, _, _ = own_database
    now, day, lease = clock.now(), timedelta(days=1), timedelta(minutes=10)
    assert await schedules.claim(store, "job", now, day, lease)  # never ran: due
    assert not await schedules.claim(store, "job", now, day, lease)
    assert not await schedules.claim(store, "job", now + day - timedelta(seconds=1), day, lease)
    assert await schedules.claim(store, "job", now + day, day, lease)
    assert await schedules.claim(store, "another job", now, day, lease)


async def test_a_run_left_unfinished_is_taken_over_once_its_lease_lapses(own_database: Own) -> None:
    store, _, _ = own_database
    now, day, lease = clock.now(), timedelta(days=1), timedelta(minutes=10)
    first = await schedules.claim(store, "job", now, day, lease)
    assert first is not None and first.progress == {}
    assert await schedules.save(store, "job", first.owner, {"afterId": "u7"}, now, lease)
    assert await schedules.take_over(store, "job", now + lease - timedelta(seconds=1), lease) is None  # still held
    second = await schedules.take_over(store, "job", now + lease, lease)
    assert second is not None and second.progress == {"afterId": "u7"} and second.owner != first.owner
    assert await schedules.take_over(store, "job", now + lease, lease) is None  # taken once
    # The first owner, back from a stall, no longer holds the run.
    assert not await schedules.save(store, "job", first.owner, {"afterId": "u9"}, now + lease, lease)
    await schedules.finish(store, "job", second.owner)
    assert await schedules.take_over(store, "job", now + 2 * day, lease) is None  # nothing left to take over


async def test_a_pass_whose_process_died_is_finished_by_another_the_same_day(own_database: Own) -> None:
    store, log, _ = own_database
    await _leads(store, "app_e", 30)
    later = clock.now() + timedelta(days=31)

    def sweeper() -> Housekeeping:
        return Housekeeping(store, 36_500, lead_retention_days=30, round_budget=20, first_retention_after=timedelta(0))

    async def job() -> dict[str, Any]:
        found = await schedules.collection(store).find_one({"_id": LEAD_SWEEP_JOB})
        assert found is not None
        return found

    dying, other = sweeper(), sweeper()
    assert await dying.run(later) > 0  # one round of the pass, then the process stops answering
    stood = (await job())["progress"]
    assert stood["apps"] == [["app_e", 30]] and stood["afterId"] is not None
    assert 0 < await _users(store) < 30
    # While its lease holds, nobody else runs the pass (the erased leads' purges may run).
    with log.capturing() as sent:
        await other.run(later + LEAD_PASS_LEASE - timedelta(seconds=1))
    assert not _walks(sent)
    # Asking again an hour later, the lease lapsed, another process goes on from where it stood,
    # the same day rather than at the next day's pass.
    resumed_at = later + LEAD_PASS_LEASE - timedelta(seconds=1) + LEAD_CLAIM_RETRY
    assert resumed_at < later + LEAD_SWEEP_EVERY
    with log.capturing() as sent:
        await other.run(resumed_at)
    assert _walks(sent)[0]["filter"]["_id"] == {"$gt": stood["afterId"]}
    owner = (await job())["owner"]
    # The first process, back from its stall, walks one more step, finds on saving that the
    # pass is no longer its own, and stops; what it saved is not overwritten.
    with log.capturing() as sent:
        await dying.run(resumed_at)
        await dying.run(resumed_at)
    assert len(_walks(sent)) == 1
    assert (await job())["owner"] == owner
    while await other.run(resumed_at) > 0:
        pass
    assert await _users(store) == 0
    assert "progress" not in await job()  # finished: nothing left to take over


async def test_an_apps_own_retention_wins_over_the_gateways(own_database: Own) -> None:
    store, _, _ = own_database
    await _leads(store, "app_own", 3)  # 30 days of its own, the gateway's off
    await store.apps.update_one({"_id": "app_own"}, {"$set": {"settings.anonymousLeadRetentionDays": 30}})
    await _leads(store, "app_default", 2)  # follows the gateway's
    await _leads(store, "app_keeps", 2)  # 0: keeps its leads whatever the gateway's
    await store.apps.update_one({"_id": "app_keeps"}, {"$set": {"settings.anonymousLeadRetentionDays": 0}})
    later = clock.now() + timedelta(days=31)

    async def users_of(app_id: str) -> int:
        return await store.users.count_documents({"appId": app_id})

    off = Housekeeping(store, 36_500, first_retention_after=timedelta(0))  # the gateway's retention off
    while await off.run(later) > 0:
        pass
    assert [await users_of(app) for app in ("app_own", "app_default", "app_keeps")] == [0, 2, 2]

    await schedules.collection(store).delete_many({})  # another day's pass
    on = Housekeeping(store, 36_500, lead_retention_days=30, first_retention_after=timedelta(0))
    while await on.run(later) > 0:
        pass
    assert [await users_of(app) for app in ("app_own", "app_default", "app_keeps")] == [0, 0, 2]


def test_erased_leads_are_counted_in_the_metrics() -> None:
    metrics = Metrics()
    metrics.erased_leads(3)
    metrics.erased_leads(2)
    assert b"profile_gateway_anonymous_leads_erased_total 5.0" in metrics.render()


async def test_the_dispatcher_runs_the_pass_with_the_configured_retention(own_database: Own, runtime: Runtime) -> None:
    store, _, settings = own_database
    dispatcher = Dispatcher(store, runtime.box, settings.model_copy(update={"anonymous_lead_retention_days": 30}))
    assert dispatcher.housekeeping.lead_retention_days == 30
    assert Dispatcher(store, runtime.box, settings).housekeeping.lead_retention_days == 0
