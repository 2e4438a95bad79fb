"""Reference tables generated from the code: configuration from `Settings`, limits from
app/domain/limits.py (and the per-app limits next to their rules). `profile-gateway
export-docs` writes them between markers in the docs; a test fails when they are stale."""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import AliasChoices
from pydantic_core import PydanticUndefined

from app.config import Settings
from app.domain import limits

BEGIN = "<!-- BEGIN GENERATED TABLE: `profile-gateway export-docs` writes it; do not edit by hand -->"
END = "<!-- END GENERATED TABLE -->"

# What the limits of app/domain/limits.py mean to a reader; a new constant without an entry
# is listed under its own name until one is added here.
LIMIT_MEANINGS: dict[str, str] = {
    "MAX_CUSTOM_ATTRIBUTES_PER_USER": "Custom attributes per user",
    "MAX_STRING_LENGTH": "Characters in a string value (also inside objects)",
    "MAX_LIST_LENGTH": "Objects in a `LIST_OF_OBJECTS` value",
    "MAX_OBJECT_FIELDS": "Fields in one of those objects",
    "MAX_TAGS_PER_USER": "Tags per user",
    "MAX_TAG_LENGTH": "Characters in a tag",
    "MAX_EMAILS_PER_USER": "Emails per user",
    "MAX_PHONES_PER_USER": "Phones per user",
    "MAX_CHANNELS_PER_USER": "Channels per user",
    "MAX_INSTALLATIONS_PER_USER": "Installations per user (personalize, merges)",
    "MAX_NAME_LENGTH": "Characters in a standard text attribute (given name, surname, ...)",
    "MAX_EXTERNAL_USER_ID_LENGTH": "Characters in an `externalUserId`",
    "MAX_DOCUMENT_BYTES": "Bytes in a user's stored profile",
    "MAX_NUMBER_DIGITS": "Significant digits of a `NUMBER` (Decimal128)",
    "MAX_INSTALLATION_FIELD_LENGTH": "Characters in an installation field",
    "MAX_OPERATIONS_PER_CALL": "Operations in one `updateCustomAttributes` call",
}

# Limits that live next to the rule they bound: (module, constant, meaning).
OTHER_LIMITS: tuple[tuple[str, str, str], ...] = (
    ("app.domain.apps", "MAX_APP_NAME_LENGTH", "Characters in an app name"),
    ("app.domain.apps", "MAX_ACTIVE_KEYS_PER_APP", "Active keys per app"),
    ("app.domain.apps", "MAX_APPS_PAGE_SIZE", "Apps per page (`apps(first:)`)"),
    ("app.domain.definitions", "MAX_DEFINITIONS_PER_APP", "Attribute definitions per app"),
    ("app.domain.categories", "MAX_CATEGORIES_PER_APP", "Preference categories per app"),
    ("app.domain.bulk", "MAX_RECORDS", "Records in one `bulkUpsertUsers` call"),
    ("app.domain.listing", "MAX_PAGE_SIZE", "Users per page (`users(first:)`)"),
    ("app.domain.segments", "MAX_ATTRIBUTE_CONDITIONS", "Attribute conditions in one `UserFilter`"),
    ("app.domain.segments", "MAX_IN_VALUES", "Values in one `in` condition"),
)


@dataclass(frozen=True, slots=True)
class Generated:
    path: str  # relative to the repository root
    table: str


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _env_names(name: str, alias: Any) -> str:
    if isinstance(alias, AliasChoices):
        return " or ".join(f"`{choice}`" for choice in alias.choices)
    prefix = Settings.model_config.get("env_prefix", "")
    return f"`{prefix}{name.upper()}`"


def _default(field: Any) -> str:
    value = field.default_factory() if field.default is PydanticUndefined else field.default
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list):
        return "`[]`" if not value else f"`{value}`"
    return f"`{value}`"


def configuration_table() -> str:
    rows = ["| Variable | Setting | Default | Meaning |", "|---|---|---|---|"]
    for name, field in Settings.model_fields.items():
        rows.append(
            f"| {_env_names(name, field.validation_alias)} | `{name}` | {_default(field)} | "
            f"{_cell(field.description or '')} |"
        )
    return "\n".join(rows)


def _number(value: int) -> str:
    return f"{value:,}"


def limits_table() -> str:
    rows = ["| Limit | Value | Constant |", "|---|---|---|"]
    for name, value in vars(limits).items():
        if name.startswith("MAX_") and isinstance(value, int):
            meaning = LIMIT_MEANINGS.get(name, name.removeprefix("MAX_").replace("_", " ").capitalize())
            rows.append(f"| {_cell(meaning)} | {_number(value)} | `limits.{name}` |")
    for module_name, constant, meaning in OTHER_LIMITS:
        module = importlib.import_module(module_name)
        value = getattr(module, constant)
        rows.append(f"| {_cell(meaning)} | {_number(value)} | `{module_name.rsplit('.', 1)[1]}.{constant}` |")
    return "\n".join(rows)


def generated() -> list[Generated]:
    return [
        Generated("docs/operations/configuration.md", configuration_table()),
        Generated("docs/reference/limits.md", limits_table()),
    ]


_REGION = re.compile(re.escape(BEGIN) + r"\n.*?" + re.escape(END), re.DOTALL)


def with_table(text: str, table: str) -> str:
    """``text`` with its generated region replaced by ``table``."""
    if _REGION.search(text) is None:
        raise ValueError("no generated-table markers")
    return _REGION.sub(lambda _: f"{BEGIN}\n{table}\n{END}", text, count=1)


def stale(root: Path) -> list[str]:
    """The docs whose generated table differs from what the code says."""
    return [
        item.path
        for item in generated()
        if (root / item.path).read_text() != with_table((root / item.path).read_text(), item.table)
    ]


def write(root: Path) -> list[str]:
    """Rewrite every generated table; the paths that changed."""
    changed = []
    for item in generated():
        path = root / item.path
        text = path.read_text()
        updated = with_table(text, item.table)
        if updated != text:
            path.write_text(updated)
            changed.append(item.path)
    return changed
