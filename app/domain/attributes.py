"""Typed custom attribute values: validation, conversion to BSON and back.

Stored form on a user (or installation) document::

    attrs:    {<key>: <bson value>}                    # queryable by field path
    attrMeta: {<key>: {"type": "NUMBER", "updatedAt": <datetime>}}

Keys are validated before they are used as field paths, so no input reaches the store
as an operator or a path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from bson.decimal128 import Decimal128, create_decimal128_context

from app.domain import clock, limits
from app.domain.errors import DomainError, ErrorCode, ErrorCollector

KEY_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
RESERVED_PREFIXES = ("$", "ss_")

_DECIMAL128 = create_decimal128_context()


class AttributeType(StrEnum):
    STRING = "STRING"
    NUMBER = "NUMBER"
    BOOLEAN = "BOOLEAN"
    DATE = "DATE"
    DATETIME = "DATETIME"
    LIST_OF_OBJECTS = "LIST_OF_OBJECTS"


SCALAR_TYPES = frozenset(AttributeType) - {AttributeType.LIST_OF_OBJECTS}

Field = Sequence[str | int]


@dataclass(frozen=True, slots=True)
class TypedValue:
    """A value as a client sent it. ``type`` None means null: remove the attribute."""

    type: AttributeType | None
    value: Any


NULL = TypedValue(None, None)


def validate_key(key: str, field: Field) -> str:
    if key.startswith(RESERVED_PREFIXES) or "." in key or "\x00" in key:
        raise DomainError(
            ErrorCode.RESERVED_KEY,
            f"{key[:80]!r} is reserved: keys may not start with '$' or 'ss_' or contain '.'",
            field,
        )
    if not KEY_PATTERN.match(key):
        raise DomainError(
            ErrorCode.INVALID_KEY,
            f"{key[:80]!r} is not a valid key: a letter, then up to 63 letters, digits or '_'",
            field,
        )
    return key


def parse_decimal(text: str, field: Field) -> Decimal:
    """Decimal text (e.g. "149.99") to an exact Decimal within Decimal128's range."""
    try:
        number = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        raise DomainError(ErrorCode.TYPE_MISMATCH, f"{str(text)[:40]!r} is not a decimal number", field) from None
    if not number.is_finite():
        raise DomainError(ErrorCode.TYPE_MISMATCH, "a number must be finite", field)
    digits = number.as_tuple().digits
    if len(digits) > limits.MAX_NUMBER_DIGITS:
        raise DomainError(
            ErrorCode.LIMIT_EXCEEDED,
            f"a number has at most {limits.MAX_NUMBER_DIGITS} significant digits",
            field,
        )
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and not -6143 <= exponent <= 6111:
        raise DomainError(ErrorCode.LIMIT_EXCEEDED, "a number is out of range", field)
    return number


def to_decimal128(number: Decimal) -> Decimal128:
    return Decimal128(_DECIMAL128.create_decimal(number))


def date_to_bson(value: date) -> datetime:
    return datetime.combine(value, time(), tzinfo=UTC)


def _check_string(value: str, field: Field) -> str:
    if len(value) > limits.MAX_STRING_LENGTH:
        raise DomainError(
            ErrorCode.LIMIT_EXCEEDED,
            f"a string value has at most {limits.MAX_STRING_LENGTH} characters",
            field,
        )
    return value


def _object_field_to_bson(value: Any, expected: AttributeType | None, field: Field) -> Any:
    """One field of an object in LIST_OF_OBJECTS: scalar JSON only."""
    if value is None:
        return None
    if expected in (AttributeType.DATE, AttributeType.DATETIME):
        if not isinstance(value, str):
            raise DomainError(ErrorCode.TYPE_MISMATCH, f"expected an ISO {expected.lower()} string", field)
        return scalar_to_bson(TypedValue(expected, _parse_iso(value, expected, field)), field)
    if isinstance(value, bool):
        inferred = AttributeType.BOOLEAN
    elif isinstance(value, int | float):
        inferred = AttributeType.NUMBER
        value = str(value)
    elif isinstance(value, str):
        inferred = AttributeType.NUMBER if expected is AttributeType.NUMBER else AttributeType.STRING
    else:
        raise DomainError(
            ErrorCode.TYPE_MISMATCH,
            "object fields must be strings, numbers, booleans or null (no nested objects or lists)",
            field,
        )
    if expected is not None and inferred is not expected:
        raise DomainError(ErrorCode.TYPE_MISMATCH, f"expected a {expected.lower()} value", field)
    return scalar_to_bson(TypedValue(inferred, value), field)


def _parse_iso(value: str, kind: AttributeType, field: Field) -> date | datetime:
    try:
        if kind is AttributeType.DATE:
            return date.fromisoformat(value)
        return datetime.fromisoformat(value)
    except ValueError:
        raise DomainError(ErrorCode.TYPE_MISMATCH, f"{value[:40]!r} is not an ISO {kind.lower()}", field) from None


def scalar_to_bson(typed: TypedValue, field: Field) -> Any:
    match typed.type:
        case AttributeType.STRING:
            return _check_string(typed.value, field)
        case AttributeType.NUMBER:
            number = typed.value if isinstance(typed.value, Decimal) else parse_decimal(typed.value, field)
            return to_decimal128(number)
        case AttributeType.BOOLEAN:
            return bool(typed.value)
        case AttributeType.DATE:
            return date_to_bson(typed.value)
        case AttributeType.DATETIME:
            moment: datetime = typed.value
            if moment.tzinfo is None:
                raise DomainError(ErrorCode.TYPE_MISMATCH, "a datetime needs a time zone offset", field)
            try:
                return clock.stored_precision(moment)
            except OverflowError:  # before year 1 or after 9999 once in UTC
                message = "a datetime must fall in the years 1 to 9999 (UTC)"
                raise DomainError(ErrorCode.INVALID_INPUT, message, field) from None
    raise DomainError(ErrorCode.TYPE_MISMATCH, "not a scalar value", field)


def objects_to_bson(
    objects: Sequence[Any], field: Field, object_fields: Mapping[str, AttributeType] | None = None
) -> list[dict[str, Any]]:
    """LIST_OF_OBJECTS: objects whose fields are scalars (typed by a definition when given)."""
    if len(objects) > limits.MAX_LIST_LENGTH:
        raise DomainError(ErrorCode.LIMIT_EXCEEDED, f"a list has at most {limits.MAX_LIST_LENGTH} objects", field)
    result: list[dict[str, Any]] = []
    for index, item in enumerate(objects):
        item_field = (*field, index)
        if not isinstance(item, Mapping):
            raise DomainError(ErrorCode.TYPE_MISMATCH, "each list item must be an object", item_field)
        if len(item) > limits.MAX_OBJECT_FIELDS:
            raise DomainError(
                ErrorCode.LIMIT_EXCEEDED,
                f"an object has at most {limits.MAX_OBJECT_FIELDS} fields",
                item_field,
            )
        converted: dict[str, Any] = {}
        for name, value in item.items():
            name_field = (*item_field, str(name)[:64])
            validate_key(str(name), name_field)
            expected = None
            if object_fields is not None:
                if name not in object_fields:
                    raise DomainError(ErrorCode.TYPE_MISMATCH, f"{name!r} is not a field of this attribute", name_field)
                expected = object_fields[name]
            converted[name] = _object_field_to_bson(value, expected, name_field)
        result.append(converted)
    return result


def to_bson(typed: TypedValue, field: Field) -> Any:
    """Validate a typed value and convert it to what is stored."""
    if typed.type is AttributeType.LIST_OF_OBJECTS:
        return objects_to_bson(typed.value, field)
    return scalar_to_bson(typed, field)


@dataclass(slots=True)
class AttributeChanges:
    """Validated customAttributes input: keys to set (type, stored value), keys to unset, and
    what the client sent for each set key and where (attribute definitions re-check those)."""

    stored: dict[str, tuple[AttributeType, Any]]
    removed: set[str]
    inputs: dict[str, tuple[TypedValue, tuple[str | int, ...]]]


def validate_changes(
    entries: Sequence[tuple[str, TypedValue]], path: Field, errors: ErrorCollector
) -> AttributeChanges:
    """Check each (key, value) of a customAttributes list; errors go to ``errors``.
    A value without a type unsets the key; a key given twice is refused."""
    changes = AttributeChanges({}, set(), {})
    seen: set[str] = set()
    for index, (key, typed) in enumerate(entries):
        item_path = (*path, "customAttributes", index)
        try:
            validate_key(key, (*item_path, "key"))
            if key in seen:
                raise DomainError(ErrorCode.INVALID_INPUT, f"{key!r} is given twice", (*item_path, "key"))
            seen.add(key)
            if typed.type is None:
                changes.removed.add(key)
            else:
                changes.stored[key] = (typed.type, to_bson(typed, (*item_path, "value")))
                changes.inputs[key] = (typed, (*item_path, "value"))
        except DomainError as error:
            errors.add(error)
    return changes


def _json_scalar(value: Any) -> Any:
    if isinstance(value, Decimal128):
        return format(value.to_decimal(), "f") if _plain(value.to_decimal()) else str(value.to_decimal())
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value


def _plain(number: Decimal) -> bool:
    exponent = number.as_tuple().exponent
    return isinstance(exponent, int) and -30 <= exponent <= 30


def from_bson(kind: AttributeType, value: Any) -> Any:
    """The JSON a client sees: NUMBER as decimal text, DATE as YYYY-MM-DD, DATETIME as RFC 3339."""
    if value is None:
        return None
    if kind is AttributeType.DATE and isinstance(value, datetime):
        return value.date().isoformat()
    if kind is AttributeType.LIST_OF_OBJECTS:
        return [{name: _json_scalar(field) for name, field in item.items()} for item in value]
    return _json_scalar(value)
