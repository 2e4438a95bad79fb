"""A user's preferences: language, time zone, opt-outs per channel type and per category.

Language and time zone are the profile's own ``preferredLanguage`` and ``timezone`` (one
source of truth); the rest lives in the document's ``preferences`` field:
``{"optedOutChannelTypes": [...], "categories": [{"name", "optedIn", "channels": [...]}]}``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from app.domain import categories as app_categories
from app.domain.actor import Actor
from app.domain.channel_specs import ChannelType
from app.domain.errors import DomainError, ErrorCode, ErrorCollector, not_found
from app.domain.patch import UNSET, Maybe
from app.domain.profile import Document, Field, validate_language, validate_timezone
from app.domain.users import UserRef, modify_user
from app.store.client import Store


@dataclass(frozen=True, slots=True)
class CategoryChoice:
    """One category's choice. ``opted_in`` None returns to the app's default; ``channels``
    (per-channel-type overrides) replace the stored ones when given, None clears them."""

    category: str
    opted_in: Maybe[bool] = UNSET
    channels: Maybe[Sequence[tuple[ChannelType, bool]]] = UNSET


@dataclass(frozen=True, slots=True)
class PreferencesPatch:
    language: Maybe[str] = UNSET
    timezone: Maybe[str] = UNSET
    opted_out_channel_types: Maybe[Sequence[ChannelType]] = UNSET
    categories: Sequence[CategoryChoice] = field(default_factory=tuple)


def stored_preferences(document: Document) -> Document:
    preferences: Document = document.get("preferences") or {}
    return preferences


def category_choices(document: Document) -> dict[str, Document]:
    return {entry["name"]: entry for entry in stored_preferences(document).get("categories", [])}


def _check_choice(index: int, choice: CategoryChoice, defined: Mapping[str, Document], path: Field) -> None:
    item = (*path, "categories", index)
    definition = defined.get(choice.category)
    if definition is None:
        raise not_found(f"the category {choice.category[:64]!r}", (*item, "category"))
    if isinstance(choice.channels, Sequence):
        types = [kind for kind, _ in choice.channels]
        if len(set(types)) != len(types):
            raise DomainError(ErrorCode.INVALID_INPUT, "a channel type is given twice", (*item, "channels"))
    if definition["mandatory"]:
        opts_out = choice.opted_in is False or (
            isinstance(choice.channels, Sequence) and not all(on for _, on in choice.channels)
        )
        if opts_out:
            raise DomainError(
                ErrorCode.INVALID_INPUT,
                f"{choice.category!r} is mandatory: users cannot opt out of it",
                (*item, "optedIn" if choice.opted_in is False else "channels"),
            )


def validate(patch: PreferencesPatch, defined: Mapping[str, Document], path: Field) -> None:
    """All errors at once; nothing is written when there is one."""
    # Each choice names a distinct category of the app: a longer list cannot be valid, and
    # answering it item by item would send back one error per item.
    if len(patch.categories) > app_categories.MAX_CATEGORIES_PER_APP:
        raise DomainError(
            ErrorCode.LIMIT_EXCEEDED,
            f"at most {app_categories.MAX_CATEGORIES_PER_APP} categories (an app has no more)",
            (*path, "categories"),
        )
    errors = ErrorCollector()
    for name, value, check in (
        ("language", patch.language, validate_language),
        ("timezone", patch.timezone, validate_timezone),
    ):
        if isinstance(value, str):
            try:
                check(value, (*path, name))
            except DomainError as error:
                errors.add(error)
    seen: set[str] = set()
    for index, choice in enumerate(patch.categories):
        try:
            if choice.category in seen:
                raise DomainError(
                    ErrorCode.INVALID_INPUT,
                    f"{choice.category!r} is given twice",
                    (*path, "categories", index),
                )
            seen.add(choice.category)
            _check_choice(index, choice, defined, path)
        except DomainError as error:
            errors.add(error)
    errors.raise_if_any()


def apply(document: Document, patch: PreferencesPatch) -> Document:
    result = dict(document)
    for name, value in (("preferredLanguage", patch.language), ("timezone", patch.timezone)):
        if value is None:
            result.pop(name, None)
        elif value is not UNSET:
            result[name] = value
    preferences = dict(stored_preferences(document))
    if patch.opted_out_channel_types is not UNSET:
        chosen = {kind.value for kind in patch.opted_out_channel_types or ()}
        preferences["optedOutChannelTypes"] = [kind.value for kind in ChannelType if kind.value in chosen]
    entries = category_choices(document)
    for choice in patch.categories:
        entry = dict(entries.get(choice.category, {"name": choice.category}))
        if choice.opted_in is None:
            entry.pop("optedIn", None)
        elif choice.opted_in is not UNSET:
            entry["optedIn"] = choice.opted_in
        if choice.channels is None:
            entry.pop("channels", None)
        elif choice.channels is not UNSET:
            entry["channels"] = [{"type": kind.value, "optedIn": on} for kind, on in choice.channels]
        if set(entry) == {"name"}:
            entries.pop(choice.category, None)  # nothing chosen: the app's default applies
        else:
            entries[choice.category] = entry
    if entries or "categories" in preferences:
        preferences["categories"] = [entries[name] for name in sorted(entries)]
    if preferences != stored_preferences(document):
        result["preferences"] = preferences
    return result


async def update_preferences(
    store: Store,
    app_id: str,
    actor: Actor,
    ref: UserRef,
    patch: PreferencesPatch,
    path: Field = ("input",),
) -> Document:
    defined = {category["name"]: category for category in await app_categories.list_categories(store, app_id)}
    validate(patch, defined, path)

    def change(document: Document, now: datetime) -> Document:
        return apply(document, patch)

    changed = [
        name
        for name, value in (
            ("language", patch.language),
            ("timezone", patch.timezone),
            ("optedOutChannelTypes", patch.opted_out_channel_types),
        )
        if value is not UNSET
    ]
    details: dict[str, Any] = {
        "preferences": changed,
        "categories": sorted({c.category for c in patch.categories}),
    }
    return await modify_user(store, app_id, actor, ref, change, path=path, details=details)


def category_opted_in(document: Document, definition: Document, channel: ChannelType | None = None) -> bool:
    """The user's effective choice for a category (and, given a channel type, its override)."""
    if definition["mandatory"]:
        return True
    entry = category_choices(document).get(definition["name"], {})
    if channel is not None:
        for override in entry.get("channels", []):
            if override["type"] == channel.value:
                return bool(override["optedIn"])
    if "optedIn" in entry:
        return bool(entry["optedIn"])
    return bool(definition["defaultOptedIn"])


def can_receive(document: Document, defined: Mapping[str, Document], category: str, channel: ChannelType) -> bool:
    """mandatory → category → channel type → channel opt-in → channel exists.

    An undefined category is never deliverable: a typo in a sender must not reach users
    who opted out of the category it meant. Mandatory categories skip the user's category and
    channel-type opt-outs, never a channel's own opt-out (e.g. an SMS "STOP").
    """
    definition = defined.get(category)
    if definition is None:
        return False
    if not definition["mandatory"]:
        if not category_opted_in(document, definition, channel):
            return False
        if channel.value in stored_preferences(document).get("optedOutChannelTypes", []):
            return False
    return any(stored.get("type") == channel.value and stored.get("optedIn") for stored in document.get("channels", []))
