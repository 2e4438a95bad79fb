"""Installations: one install of the business's app on a device, owned by one user at a time.

The queries live in app/store/installations.py.
"""

from __future__ import annotations

from app.domain.errors import not_found
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
