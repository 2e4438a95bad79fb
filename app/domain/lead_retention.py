"""Retention of anonymous leads (``PROFILE_GATEWAY_ANONYMOUS_LEAD_RETENTION_DAYS``; off by default).

Every first registration with only the app id (``saveInstallation`` with ``X-App-Id``) creates
an anonymous LEAD user, and anyone holding the public app id can make one. Nothing else removes
a lead whose device never comes back: uninstalled apps, one-off visitors and registration
floods stay for good. With a retention of N days, housekeeping erases every *idle anonymous
lead*, a user who:

- is a LEAD and not a merge tombstone;
- holds no identifier and no contact data: no externalUserId, no emails or phones (verified or
  not) and no channels, so no one can be told about the erasure and nothing identifies them;
- was not written for N days (``updatedAt``: any attribute, tag or preference write, by the
  backend or the device's session), and none of its installations was seen for N days
  (``lastSeenAt``: every ``saveInstallation``).

Its attributes, tags, installations, session tokens and history go, as with ``deleteUser``,
and a ``user.deleted`` change event tells downstream systems. A customer, or a lead who left
an email, is never erased by this rule.

The walk costs no index beyond the ones pages of ``users`` use: per app, the users in id order
(``LEADS_PER_READ`` at a time, only the rule's fields), the rule applied here, the candidates'
installation times in one read. Each candidate is then erased in its own unit of work, which
reads the user and its installations again and erases only if the rule still holds on what it
read: a device seen, or a write, between the walk and the erasure keeps the user. On MongoDB
a heartbeat committed during the erasure's transaction is a write conflict, and the retry
reads it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from app.domain.app_settings import AppSettings
from app.domain.events import DELETED_BY_RETENTION
from app.domain.profile import Document, ProfileType
from app.domain.users import erase
from app.store import apps as apps_store
from app.store import installations as installations_store
from app.store import unit_of_work
from app.store import users as users_store
from app.store.client import Store
from app.store.unit_of_work import UnitOfWork

log = logging.getLogger(__name__)

LEADS_PER_READ = 200  # users read per step of the walk (ids and the rule's fields)
# What an erasure costs a housekeeping round, in documents read: it is a transaction that writes
# about ten (the user, its registry entries, installation and session, the purge record, the
# change event), 20-35 ms on the embedded store against 10-15 ms for a step's whole read.
ERASURE_COST = 10
# Any of these, non-empty, makes a user known or reachable: never erased as an anonymous lead.
IDENTIFYING_FIELDS = ("externalUserId", "emails", "phones", "unverifiedEmails", "unverifiedPhones", "channels")
RULE_FIELDS = ("type", "mergedInto", "updatedAt", *IDENTIFYING_FIELDS)


def is_idle_anonymous_lead(user: Document, installations_seen: Sequence[datetime | None], idle_since: datetime) -> bool:
    """Whether the rule above erases ``user``, whose installations were last seen at
    ``installations_seen``, when nothing since ``idle_since`` counts as idle."""
    if user.get("type") != ProfileType.LEAD.value or "mergedInto" in user:
        return False
    if any(user.get(name) for name in IDENTIFYING_FIELDS):
        return False
    updated_at = user.get("updatedAt")
    if not isinstance(updated_at, datetime) or updated_at >= idle_since:
        return False
    return all(seen is not None and seen < idle_since for seen in installations_seen)


@dataclass(frozen=True, slots=True)
class Step:
    """One step of the walk over an app's users."""

    read: int  # users read
    erased: int  # idle anonymous leads erased
    after_id: str | None  # where the next step goes on; None: the app is done


async def sweep_step(
    store: Store, app_id: str, after_id: str | None, idle_since: datetime, limit: int, max_erased: int
) -> Step:
    """Read up to ``limit`` of the app's users after ``after_id`` and erase the idle anonymous
    leads among them, at most ``max_erased``: the step then ends before the next candidate."""
    users = await users_store.walk_page(store, app_id, after_id, limit, RULE_FIELDS)
    idle = await _idle_among(store, app_id, users, idle_since)
    erased = 0
    for index, user in enumerate(users):
        if user["_id"] not in idle:
            continue
        if erased == max_erased:  # the next step starts at this candidate
            _log_erased(erased, app_id)
            return Step(index, erased, users[index - 1]["_id"] if index else after_id)
        if await erase_if_idle(store, app_id, user["_id"], idle_since):
            erased += 1
    _log_erased(erased, app_id)
    return Step(len(users), erased, users[-1]["_id"] if len(users) == limit else None)


async def _idle_among(store: Store, app_id: str, users: Sequence[Document], idle_since: datetime) -> set[str]:
    """The ids of the idle anonymous leads among ``users`` (read with ``RULE_FIELDS``): the rule
    on each user first, then on the candidates' installations, read at once."""
    candidates = [user for user in users if is_idle_anonymous_lead(user, (), idle_since)]
    seen = await installations_store.last_seen_by_user(store, app_id, [user["_id"] for user in candidates])
    return {user["_id"] for user in candidates if is_idle_anonymous_lead(user, seen[user["_id"]], idle_since)}


async def count_idle(store: Store, app_id: str, idle_since: datetime) -> tuple[int, int]:
    """How many of the app's users the rule would erase now, and how many users the app has:
    the same walk as a pass, without erasing (what an operator reads before turning it on)."""
    idle = total = 0
    after_id: str | None = None
    while True:
        users = await users_store.walk_page(store, app_id, after_id, LEADS_PER_READ, RULE_FIELDS)
        idle += len(await _idle_among(store, app_id, users, idle_since))
        total += len(users)
        if len(users) < LEADS_PER_READ:
            return idle, total
        after_id = users[-1]["_id"]


async def retention_by_app(store: Store, gateway_days: int) -> list[tuple[str, int]]:
    """Every app, in id order, with the retention in effect for it: its own, else the
    gateway's ``gateway_days`` (0: its leads are kept)."""
    return [
        (str(app["_id"]), AppSettings.of(app).lead_retention_days(gateway_days))
        for app in await apps_store.all_settings(store)
    ]


def _log_erased(erased: int, app_id: str) -> None:
    if erased:
        log.info("erased %d idle anonymous leads of app %s", erased, app_id)


async def erase_if_idle(store: Store, app_id: str, user_id: str, idle_since: datetime) -> bool:
    """Erase the user, as one unit of work, if the rule holds on the user and installations
    this unit reads; whether it did (False: gone already, or no longer idle)."""

    async def work(unit: UnitOfWork) -> bool:
        user = await users_store.find_by_id(store, app_id, user_id, unit.session)
        if user is None:
            return False
        seen = await installations_store.last_seen_by_user(store, app_id, [user_id], unit.session)
        if not is_idle_anonymous_lead(user, seen[user_id], idle_since):
            return False
        await erase(unit, app_id, user_id, user, DELETED_BY_RETENTION)
        return True

    return await unit_of_work.run(store, work)
