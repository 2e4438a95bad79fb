"""Housekeeping: pending purges, redeliveries and retention, in bounded rounds beside webhook
delivery.

The dispatcher (``app/domain/webhooks_dispatcher.py``) calls ``Housekeeping.run`` at the start
of each of its rounds. A round touches at most ``ROUND_BUDGET`` documents, in batches of
``PURGE_BATCH`` (one short command each), so neither the dispatcher's deliveries nor the
store's other writers wait long behind it; work left over is taken up by the next round.

- Pending purges (an erased user's history, a deleted endpoint's deliveries, and a merged
  user's history moving to the user that absorbed it) and webhook redeliveries (an endpoint's
  deliveries since a time made pending again) are looked for every ``PURGE_CHECK_EVERY``, and
  at once when this process scheduled one (``wake``). Another process's, or one interrupted by
  a crash, is finished within that minute.
- Retention (``PROFILE_GATEWAY_CHANGE_EVENT_RETENTION_DAYS``) walks every app's change events
  and every endpoint's deliveries, oldest first, every ``RETENTION_EVERY``: at most
  ``OWNERS_PER_ROUND`` owners a round, the first pass ``RETENTION_FIRST_AFTER`` after the
  process starts (a starting process delivers first).
- Anonymous leads (``PROFILE_GATEWAY_ANONYMOUS_LEAD_RETENTION_DAYS``, off at 0, or an app's own
  ``anonymousLeadRetentionDays``): a pass over the users of every app with a retention,
  ``LEADS_PER_READ`` at a time, erases the idle anonymous leads
  (``app/domain/lead_retention.py``), the first pass ``RETENTION_FIRST_AFTER`` after the
  process starts, then one every ``LEAD_SWEEP_EVERY``: of all the gateway processes, the one
  that claims the period's pass in the store (``app/store/schedules.py``) runs it, saving where
  it stands after each round. If that process dies, another takes the pass over from there once
  its lease (``LEAD_PASS_LEASE``) has lapsed, when it next asks (``LEAD_CLAIM_RETRY``).

Every step is idempotent, so several processes running it at once delete each document once.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from app.domain import clock, lead_retention
from app.store import purges, redeliveries, retention, schedules
from app.store.client import Store
from app.store.purges import PURGE_BATCH

log = logging.getLogger(__name__)

ROUND_BUDGET = 10 * PURGE_BATCH  # documents per round at most
PURGE_CHECK_EVERY = timedelta(minutes=1)
RETENTION_EVERY = timedelta(minutes=10)
RETENTION_FIRST_AFTER = timedelta(minutes=1)
LEAD_SWEEP_EVERY = timedelta(days=1)  # each pass reads every user of every app: one process a day
LEAD_SWEEP_JOB = "anonymous-lead-retention"  # its claim in app/store/schedules.py
LEAD_CLAIM_RETRY = timedelta(hours=1)  # how often a process that did not claim the pass asks again
LEAD_PASS_LEASE = timedelta(minutes=10)  # renewed every round of the pass; lapsed, the pass is another's
OWNERS_PER_ROUND = 50  # reads of an owner's oldest entry: a pass over many apps spans rounds
_PURGES_PER_READ = 20
Record = Mapping[str, Any]  # a pending purge or a redelivery, as stored


@dataclass(slots=True)
class Housekeeping:
    store: Store
    retention_days: int
    lead_retention_days: int = 0  # the gateway's; an app's own setting wins (0: leads are kept)
    on_leads_erased: Callable[[int], None] | None = None  # told how many leads each step erased (metrics)
    round_budget: int = ROUND_BUDGET
    first_retention_after: timedelta = RETENTION_FIRST_AFTER
    _pending_due_at: datetime | None = None  # purges and redeliveries; None: due now
    _retention_due_at: datetime | None = None  # None: set by the first round
    _retention_left: list[retention.Owner] | None = None  # owners the current pass has not trimmed yet
    _leads_due_at: datetime | None = None  # None: set by the first round
    _lead_walk: LeadWalk | None = None  # the current pass over the apps' users

    def wake(self) -> None:
        """Look for pending purges and redeliveries in the next round (this process has just
        scheduled one)."""
        self._pending_due_at = None

    async def run(self, now: datetime) -> int:
        """Whatever is due, within one round's budget; returns the documents touched."""
        budget = self.round_budget
        if self._retention_due_at is None:
            self._retention_due_at = now + self.first_retention_after
        if self._pending_due_at is None or now >= self._pending_due_at:
            deleted, purged_all = await self._purge(budget)
            budget -= deleted
            read, redelivered_all = await self._redeliver(budget) if budget > 0 else (0, False)
            budget -= read
            self._pending_due_at = now + PURGE_CHECK_EVERY if purged_all and redelivered_all else None
        if budget > 0 and now >= self._retention_due_at:
            deleted, finished = await self._retain(now - timedelta(days=self.retention_days), budget)
            budget -= deleted
            self._retention_due_at = now + RETENTION_EVERY if finished else now
        # Every process takes part even with the gateway's retention off: an app may set its own.
        if self._leads_due_at is None:
            self._leads_due_at = now + self.first_retention_after
        if budget > 0 and now >= self._leads_due_at:
            budget -= await self._leads(now, budget)
        return self.round_budget - budget

    async def _leads(self, now: datetime, budget: int) -> int:
        """Go on with this process's pass over the leads, or start one if this process claims
        the period's (one process a period reads every user, not each of them), or take over
        one that a process left unfinished."""
        if self._lead_walk is None:
            lease = await schedules.claim(
                self.store, LEAD_SWEEP_JOB, now, LEAD_SWEEP_EVERY, LEAD_PASS_LEASE
            ) or await schedules.take_over(self.store, LEAD_SWEEP_JOB, now, LEAD_PASS_LEASE)
            if lease is None:
                self._leads_due_at = now + LEAD_CLAIM_RETRY
                return 0
            self._lead_walk = LeadWalk.resumed(lease)
        walk = self._lead_walk
        spent, finished = await self._sweep_leads(walk, now, budget)
        if finished:
            self._lead_walk = None
            await schedules.finish(self.store, LEAD_SWEEP_JOB, walk.owner)
            self._leads_due_at = now + LEAD_SWEEP_EVERY
        elif await schedules.save(self.store, LEAD_SWEEP_JOB, walk.owner, walk.progress(), now, LEAD_PASS_LEASE):
            self._leads_due_at = now
        else:  # this process stalled past its lease and another took the pass over
            log.warning("the anonymous-lead pass was taken over by another process; this one stops")
            self._lead_walk = None
            self._leads_due_at = now + LEAD_CLAIM_RETRY
        return spent

    async def _purge(self, budget: int) -> tuple[int, bool]:
        """Run pending purges until the budget is spent (documents deleted or moved); whether
        none is left."""

        async def batch(purge: Record) -> tuple[int, Record | None]:
            count, finished = await purges.run_batch(self.store, purge)
            return count, None if finished else purge

        return await _work_through(await purges.due(self.store, _PURGES_PER_READ), batch, budget, "pending purge")

    async def _redeliver(self, budget: int) -> tuple[int, bool]:
        """Walk redeliveries until the budget is spent (deliveries read); whether none is left."""

        async def batch(walk: Record) -> tuple[int, Record | None]:
            done = await redeliveries.run_batch(self.store, walk, clock.now())
            return done.read, done.rest

        return await _work_through(await redeliveries.due(self.store, _PURGES_PER_READ), batch, budget, "redelivery")

    async def _retain(self, older_than: datetime, budget: int) -> tuple[int, bool]:
        """Trim owners until the budget or the round's owners are spent; whether the pass has
        reached every owner."""
        if self._retention_left is None:
            self._retention_left = list(reversed(await retention.owners(self.store)))
        deleted = visited = 0
        while self._retention_left:
            if deleted >= budget or visited >= OWNERS_PER_ROUND:
                return deleted, False
            visited += 1
            count, more = await retention.trim(self.store, self._retention_left[-1], older_than, PURGE_BATCH)
            deleted += count
            if not more:
                self._retention_left.pop()
        self._retention_left = None
        return deleted, True

    async def _sweep_leads(self, walk: LeadWalk, now: datetime, budget: int) -> tuple[int, bool]:
        """Walk the users of the apps with a lead retention until the budget is spent (users read
        and leads erased); whether the pass has reached every such app's last user."""
        if walk.apps_left is None:  # a new pass: the apps and their retention as they are now
            retained = await lead_retention.retention_by_app(self.store, self.lead_retention_days)
            walk.apps_left = [(app_id, days) for app_id, days in reversed(retained) if days > 0]
        # A step reads up to n users and erases up to n / ERASURE_COST of them, so it costs up
        # to 2n: the round takes full steps while that fits in what is left of its budget, and
        # at least one.
        spent = 0
        step_size = max(1, min(lead_retention.LEADS_PER_READ, self.round_budget // 2))
        max_erased = max(1, step_size // lead_retention.ERASURE_COST)
        while walk.apps_left:
            if spent > 0 and budget - spent < 2 * step_size:
                return spent, False
            app_id, days = walk.apps_left[-1]
            idle_since = now - timedelta(days=days)
            step = await lead_retention.sweep_step(self.store, app_id, walk.after_id, idle_since, step_size, max_erased)
            spent += step.read + lead_retention.ERASURE_COST * step.erased
            if step.erased and self.on_leads_erased is not None:
                self.on_leads_erased(step.erased)
            walk.after_id = step.after_id
            if step.after_id is None:
                walk.apps_left.pop()
        return spent, True


@dataclass(slots=True)
class LeadWalk:
    """Where a pass over the apps' users stands: the apps left with their retention in days
    (the current one last; None until the pass has listed them) and the last user read of the
    current one; ``owner`` is this process's lease on the pass (app/store/schedules.py)."""

    owner: str
    apps_left: list[tuple[str, int]] | None = None
    after_id: str | None = None

    @classmethod
    def resumed(cls, lease: schedules.Lease) -> LeadWalk:
        """The walk from where the lease's progress says the pass stood (a new one if empty)."""
        apps = lease.progress.get("apps")
        listed = None if apps is None else [(str(app_id), int(days)) for app_id, days in apps]
        return cls(lease.owner, listed, lease.progress.get("afterId"))

    def progress(self) -> dict[str, Any]:
        """What the store keeps of the walk, for a process that takes the pass over."""
        apps = None if self.apps_left is None else [[app_id, days] for app_id, days in self.apps_left]
        return {"apps": apps, "afterId": self.after_id}


async def _work_through(
    due: Sequence[Record], batch: Callable[[Record], Awaitable[tuple[int, Record | None]]], budget: int, kind: str
) -> tuple[int, bool]:
    """Run each record's batches (each returns its cost and the record to go on with, or None
    when it is done) until the budget is spent; whether every record due was read and done."""
    spent = 0
    for record in due:
        current: Record | None = record
        while current is not None:
            if spent >= budget:
                return spent, False
            try:
                cost, current = await batch(current)
            except ValueError:  # a record this version does not know: left for the one that does
                log.warning("%s %r skipped: not understood", kind, record.get("_id"))
                break
            spent += cost
    return spent, len(due) < _PURGES_PER_READ
