"""Preference categories: the kinds of message an app sends (news, billing, security...).

Each has a default (opted in or out) for users who never chose, and may be mandatory:
users cannot opt out of a mandatory category.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.domain import clock
from app.domain.errors import DomainError, ErrorCode, not_found
from app.store import categories as categories_store
from app.store import unit_of_work
from app.store.client import Store
from app.store.unit_of_work import UnitOfWork

Document = dict[str, Any]
Field = tuple[str | int, ...]

CATEGORY_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
MAX_CATEGORIES_PER_APP = 100
MAX_DESCRIPTION_LENGTH = 500


@dataclass(frozen=True, slots=True)
class CategoryInput:
    name: str
    description: str | None = None
    default_opted_in: bool = True
    mandatory: bool = False


def validate_name(name: str, path: Field) -> str:
    if not CATEGORY_NAME.fullmatch(name):  # fullmatch: "$" alone accepts a final newline
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            "a category name is a letter, then up to 63 letters, digits, '_' or '-'",
            path,
        )
    return name


def _category_id(app_id: str, name: str) -> str:
    return f"{app_id}:{name}"


async def define_category(store: Store, app_id: str, spec: CategoryInput, path: Field = ("input",)) -> Document:
    """Create a category, or change the one with this name."""
    name = validate_name(spec.name, (*path, "name"))
    description = (spec.description or "").strip() or None
    if description is not None and len(description) > MAX_DESCRIPTION_LENGTH:
        raise DomainError(
            ErrorCode.LIMIT_EXCEEDED,
            f"a description has at most {MAX_DESCRIPTION_LENGTH} characters",
            (*path, "description"),
        )
    category_id = _category_id(app_id, name)
    existing = await categories_store.find(store, category_id)
    if existing is None:
        count = await categories_store.count(store, app_id)
        if count >= MAX_CATEGORIES_PER_APP:
            raise DomainError(
                ErrorCode.LIMIT_EXCEEDED,
                f"an app has at most {MAX_CATEGORIES_PER_APP} categories",
                path,
            )
    now = clock.now()
    document: Document = {
        "_id": category_id,
        "appId": app_id,
        "name": name,
        "description": description,
        "defaultOptedIn": spec.default_opted_in,
        "mandatory": spec.mandatory,
        "createdAt": existing["createdAt"] if existing else now,
        "updatedAt": now,
    }

    async def work(unit: UnitOfWork) -> Document:
        # Keyed by _id: two concurrent definitions of one name end as one category.
        await unit.replace_one(store.preference_categories, {"_id": category_id}, document, upsert=True)
        return document

    return await unit_of_work.run(store, work)


async def remove_category(store: Store, app_id: str, name: str, path: Field = ("name",)) -> str:
    """Users' stored choices for it stay, unused, and apply again if it is defined again."""

    async def work(unit: UnitOfWork) -> str:
        if await unit.delete_many(store.preference_categories, {"_id": _category_id(app_id, name)}) != 1:
            raise not_found("the category", path)
        return name

    return await unit_of_work.run(store, work)


async def list_categories(store: Store, app_id: str) -> list[Document]:
    return (await categories_of_apps(store, [app_id]))[0]


async def categories_of_apps(store: Store, app_ids: Sequence[str]) -> list[list[Document]]:
    """Each app's categories sorted by name, in the order of ``app_ids``: one round trip."""
    found: dict[str, list[Document]] = {app_id: [] for app_id in app_ids}
    for document in await categories_store.of_apps(store, app_ids):
        found[document["appId"]].append(document)
    return [found[app_id] for app_id in app_ids]
