"""File records (NDJSON objects, CSV rows) to the domain's UserPatch.

NDJSON lines carry the fields of UpsertUserInput as JSON. CSV columns are the standard
attributes (lists separated by ``;``) and ``attr.<key>[:<type>]`` for custom attributes,
type one of string (default), number, boolean, date, datetime (RFC 3339 or epoch
milliseconds), strings and numbers (a JSON list, or items separated by ``;``), object (a
JSON object) and objects (a JSON list of objects).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from app.domain.attributes import NULL, AttributeType, TypedValue
from app.domain.errors import DomainError, ErrorCode
from app.domain.identifiers import parse_moment
from app.domain.profile import UserPatch

ALIASES = {"firstName": "givenName", "lastName": "surname", "email": "emails", "phone": "phones"}
TEXT = ("externalUserId", "givenName", "surname", "middleName", "gender", "preferredLanguage", "timezone")
LISTS = ("emails", "phones", "tags")
STANDARD = frozenset((*TEXT, *LISTS, "birthday", "signedUpAt", "customAttributes", *ALIASES))
VALUE_MEMBERS: dict[str, AttributeType | None] = {
    "string": AttributeType.STRING,
    "number": AttributeType.NUMBER,
    "boolean": AttributeType.BOOLEAN,
    "date": AttributeType.DATE,
    "datetime": AttributeType.DATETIME,
    "objects": AttributeType.LIST_OF_OBJECTS,
    "strings": AttributeType.LIST_OF_STRINGS,
    "numbers": AttributeType.LIST_OF_NUMBERS,
    "object": AttributeType.OBJECT,
    "null": None,
}
HINTS = {
    "string": "string",
    "number": "number",
    "boolean": "boolean",
    "date": "date",
    "datetime": "datetime",
    "objects": "objects",
    "list": "objects",
    "strings": "strings",
    "numbers": "numbers",
    "object": "object",
}
HINT_TYPES = {hint: kind for hint, kind in VALUE_MEMBERS.items() if kind is not None}
TRUE, FALSE = frozenset({"true", "1", "yes"}), frozenset({"false", "0", "no"})


def _invalid(message: str, *field: str | int) -> DomainError:
    return DomainError(ErrorCode.INVALID_INPUT, message, field)


def _parse(kind: str, raw: Any, field: tuple[str | int, ...]) -> Any:
    """A JSON/CSV scalar as the Python value the domain expects for ``kind``."""
    try:
        match kind:
            case "string":
                if not isinstance(raw, str):
                    raise ValueError("expected a string")
                return raw
            case "number":
                # JSON numbers arrive as int/float; decimal text stays exact.
                if isinstance(raw, bool) or not isinstance(raw, str | int | float):
                    raise ValueError("expected a decimal number")
                return str(raw)
            case "boolean":
                if isinstance(raw, bool):
                    return raw
                if isinstance(raw, str) and raw.strip().lower() in TRUE | FALSE:
                    return raw.strip().lower() in TRUE
                raise ValueError("expected true or false")
            case "date":
                return date.fromisoformat(raw)
            case "datetime":
                return parse_moment(raw)  # RFC 3339 or epoch milliseconds
            case "objects":
                value = json.loads(raw) if isinstance(raw, str) else raw
                if not isinstance(value, list):
                    raise ValueError("expected a JSON list of objects")
                return value
            case "object":
                value = json.loads(raw) if isinstance(raw, str) else raw
                if not isinstance(value, dict):
                    raise ValueError("expected a JSON object")
                return value
            case "strings" | "numbers":
                return _items(kind, raw, field)
    except (TypeError, ValueError) as error:
        raise _invalid(f"{kind}: {error}", *field) from None
    raise _invalid(f"unknown type {kind!r}", *field)


def _items(kind: str, raw: Any, field: tuple[str | int, ...]) -> list[str]:
    """A scalar list: a JSON list, or (in a CSV cell) items separated by ``;``."""
    if isinstance(raw, str):
        text = raw.strip()
        values: Any = json.loads(text) if text.startswith("[") else [part.strip() for part in text.split(";")]
    else:
        values = raw
    if not isinstance(values, list):
        raise ValueError(f"expected a list of {kind}")
    item_kind = "string" if kind == "strings" else "number"
    return [_parse(item_kind, item, (*field, index)) for index, item in enumerate(values)]


def typed_value(member: Mapping[str, Any], field: tuple[str | int, ...]) -> TypedValue:
    """An AttributeValue object ({"number": "1.5"}, {"null": true}, ...) to a TypedValue."""
    if not isinstance(member, Mapping) or len(member) != 1 or next(iter(member)) not in VALUE_MEMBERS:
        raise _invalid(f"a value is one of {', '.join(VALUE_MEMBERS)}", *field)
    name, raw = next(iter(member.items()))
    kind = VALUE_MEMBERS[name]
    if kind is None or raw is None:
        return NULL
    return TypedValue(kind, _parse(HINTS[name], raw, (*field, name)))


def _set(patch: UserPatch, name: str, value: Any) -> None:
    attribute = {
        "externalUserId": "external_user_id",
        "givenName": "given_name",
        "middleName": "middle_name",
        "preferredLanguage": "preferred_language",
        "signedUpAt": "signed_up_at",
    }.get(name, name)
    setattr(patch, attribute, value)


def from_json(record: Any) -> UserPatch:
    """One NDJSON record (the fields of UpsertUserInput)."""
    if not isinstance(record, dict):
        raise _invalid("each line must be a JSON object")
    patch = UserPatch()
    for raw_name, value in record.items():
        name: str = ALIASES.get(str(raw_name), str(raw_name))
        if raw_name not in STANDARD:
            raise _invalid(f"unknown field {str(raw_name)[:64]!r}", str(raw_name)[:64])
        if name == "customAttributes":
            if not isinstance(value, list):
                raise _invalid("customAttributes is a list of {key, value}", name)
            patch.custom_attributes = [_custom(item, (name, index)) for index, item in enumerate(value)]
        elif value is None:
            _set(patch, name, None)
        elif name in LISTS:
            values = value if isinstance(value, list) else [value]
            _set(patch, name, [_parse("string", item, (name, index)) for index, item in enumerate(values)])
        else:
            kind = {"birthday": "date", "signedUpAt": "datetime"}.get(name, "string")
            _set(patch, name, _parse(kind, value, (name,)))
    return patch


def _custom(item: Any, field: tuple[str | int, ...]) -> tuple[str, TypedValue]:
    if not isinstance(item, dict) or not isinstance(item.get("key"), str) or "value" not in item:
        raise _invalid("a custom attribute is {key, value}", *field)
    return item["key"], typed_value(item["value"], (*field, "value"))


Converter = Callable[[dict[str, str]], UserPatch]


def csv_converter(columns: list[str]) -> Converter:
    """Checks the header once; returns the function that converts each row."""
    attribute_columns: dict[str, tuple[str, str]] = {}
    for column in columns:
        if column.startswith("attr."):
            key, _, hint = column[5:].partition(":")
            if (hint or "string") not in HINTS:
                raise _invalid(f"column {column!r}: type hint is one of {', '.join(HINTS)}")
            attribute_columns[column] = (key, HINTS[hint or "string"])
        elif column not in STANDARD or column == "customAttributes":
            raise _invalid(f"unknown column {column!r}: use a standard attribute or attr.<key>:<type>")

    def convert(row: dict[str, str]) -> UserPatch:
        record: dict[str, Any] = {}
        custom: list[tuple[str, TypedValue]] = []
        for column, cell in row.items():
            if column is None:
                raise _invalid("the row has more cells than the header")
            if cell is None or cell.strip() == "":
                continue  # an empty cell leaves the value alone
            if column in attribute_columns:
                key, hint = attribute_columns[column]
                kind = HINT_TYPES[hint]
                custom.append((key, TypedValue(kind, _parse(hint, cell.strip(), (column,)))))
            elif ALIASES.get(column, column) in LISTS:
                record[column] = [part.strip() for part in cell.split(";") if part.strip()]
            else:
                record[column] = cell.strip()
        patch = from_json(record)
        patch.custom_attributes = custom or None
        return patch

    return convert
