"""Installations: one install of the business's app on a device, owned by one user at a time.

The queries live in app/store/installations.py.
"""

from __future__ import annotations

from app.domain import limits
from app.domain.errors import DomainError, ErrorCode, not_found
from app.domain.profile import Document, Field
from app.store import installations as installations_store
from app.store.client import Session, Store

# The collection's queries, under the names the rest of the app knows.
find = installations_store.find
find_by_id = installations_store.find_by_id
find_by_user_ids = installations_store.find_by_user_ids
find_by_push_registration_ids = installations_store.find_by_push_registration_ids
move_all = installations_store.move_all


async def get(
    store: Store,
    app_id: str,
    push_registration_id: str,
    path: Field = ("pushRegistrationId",),
    session: Session | None = None,
) -> Document:
    document = await find(store, app_id, push_registration_id, session)
    if document is None:
        raise not_found("the installation", path)
    return document


async def count_held(store: Store, app_id: str, user_id: str, session: Session | None) -> int:
    """The user's installations, counted no further than one past the limit (a bounded read,
    however many a user stored before the limit holds)."""
    return await installations_store.count_held(store, app_id, user_id, limits.MAX_INSTALLATIONS_PER_USER + 1, session)


async def check_room(
    store: Store, app_id: str, user_id: str, arriving: int, path: Field, session: Session | None
) -> None:
    """LIMIT_EXCEEDED when ``arriving`` more installations would give the user more than
    ``MAX_INSTALLATIONS_PER_USER``. In the unit that moves them: the unit also writes the
    user's document, so two arrivals at once conflict and the second one counts again."""
    limit = limits.MAX_INSTALLATIONS_PER_USER
    if arriving == 0:
        return  # nothing arrives: a user stored over the limit before it existed keeps what it has
    if await count_held(store, app_id, user_id, session) + arriving > limit:
        raise DomainError(
            ErrorCode.LIMIT_EXCEEDED,
            f"the user would hold more than {limit} installations; depersonalize those no longer in use first",
            path,
        )
