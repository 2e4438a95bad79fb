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

from app.domain import clock, limits
from app.domain.errors import DomainError, ErrorCode, ErrorCollector
from app.store import decimals

# fullmatch, never match + "$": in Python's regex "$" also matches before a final newline.
KEY_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
RESERVED_PREFIXES = ("$", "ss_")


class AttributeType(StrEnum):
    STRING = "STRING"
    NUMBER = "NUMBER"
    BOOLEAN = "BOOLEAN"
    DATE = "DATE"
    DATETIME = "DATETIME"
    LIST_OF_STRINGS = "LIST_OF_STRINGS"
    LIST_OF_NUMBERS = "LIST_OF_NUMBERS"
    OBJECT = "OBJECT"
    LIST_OF_OBJECTS = "LIST_OF_OBJECTS"


SCALAR_TYPES = frozenset(
    {AttributeType.STRING, AttributeType.NUMBER, AttributeType.BOOLEAN, AttributeType.DATE, AttributeType.DATETIME}
)
# A scalar list's item type; append/remove of one scalar go to the list of its type.
LIST_ITEM_TYPES = {
    AttributeType.LIST_OF_STRINGS: AttributeType.STRING,
    AttributeType.LIST_OF_NUMBERS: AttributeType.NUMBER,
}
LIST_OF = {item: kind for kind, item in LIST_ITEM_TYPES.items()}
LIST_TYPES = frozenset({*LIST_ITEM_TYPES, AttributeType.LIST_OF_OBJECTS})

Field = Sequence[str | int]


@dataclass(frozen=True, slots=True)
class TypedValue:
    """A value as a client sent it. ``type`` None means null: remove the attribute."""

    type: AttributeType | None
    value: Any


NULL = TypedValue(None, None)


def validate_key(key: str, field: Field) -> str:
    """A key (attribute key, object key, definition name, path segment): never an operator
    or a field path in the store."""
    if key.startswith(RESERVED_PREFIXES) or "." in key:
        raise DomainError(
            ErrorCode.RESERVED_KEY,
            f"{key[:80]!r} is reserved: keys may not start with '$' or 'ss_' or contain '.'",
            field,
        )
    if not KEY_PATTERN.fullmatch(key):
        raise DomainError(
            ErrorCode.INVALID_KEY,
            f"{key[:80]!r} is not a valid key: a letter, then up to 63 letters, digits or '_'",
            field,
        )
    return key


def validate_path(path: Sequence[str], field: Field) -> tuple[str, ...]:
    """A path into an OBJECT value: a list of keys, each checked like a key."""
    if not path:
        raise DomainError(ErrorCode.INVALID_INPUT, "a path has at least one key", field)
    if len(path) >= limits.MAX_OBJECT_DEPTH:
        raise DomainError(ErrorCode.LIMIT_EXCEEDED, f"a path has at most {limits.MAX_OBJECT_DEPTH - 1} keys", field)
    return tuple(validate_key(segment, (*field, index)) for index, segment in enumerate(path))


def parse_decimal(text: str, field: Field) -> Decimal:
    """Decimal text (e.g. "149.99") to an exact Decimal within the documented range."""
    if not isinstance(text, str) or len(text) > 2 * limits.MAX_NUMBER_DIGITS + 16:
        # A 5,000-digit number is refused before Decimal parses it.
        raise DomainError(ErrorCode.LIMIT_EXCEEDED, f"a number has at most {limits.MAX_NUMBER_DIGITS} digits", field)
    try:
        number = Decimal(text.strip())
    except InvalidOperation:
        raise DomainError(ErrorCode.TYPE_MISMATCH, f"{text[:40]!r} is not a decimal number", field) from None
    if not number.is_finite():
        raise DomainError(ErrorCode.TYPE_MISMATCH, "a number must be finite", field)
    digits = number.as_tuple().digits
    if len(digits) > limits.MAX_NUMBER_DIGITS:
        raise DomainError(
            ErrorCode.LIMIT_EXCEEDED,
            f"a number has at most {limits.MAX_NUMBER_DIGITS} significant digits",
            field,
        )
    bound = limits.MAX_NUMBER_ADJUSTED_EXPONENT
    if number and not -bound <= number.adjusted() <= bound:
        raise DomainError(
            ErrorCode.LIMIT_EXCEEDED, f"a number's magnitude is between 1E-{bound} and 1E+{bound + 1}", field
        )
    return number


def to_decimal128(number: Decimal) -> Any:
    return decimals.to_stored(number)


def date_to_bson(value: date) -> datetime:
    return datetime.combine(value, time(), tzinfo=UTC)


def check_string(value: str, field: Field) -> str:
    if len(value) > limits.MAX_STRING_LENGTH:
        raise DomainError(
            ErrorCode.LIMIT_EXCEEDED,
            f"a string value has at most {limits.MAX_STRING_LENGTH} characters",
            field,
        )
    if "\x00" in value:
        raise DomainError(ErrorCode.INVALID_INPUT, "a string value may not contain NUL characters", field)
    return value


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
            if not isinstance(typed.value, str):
                raise DomainError(ErrorCode.TYPE_MISMATCH, "expected a string", field)
            return check_string(typed.value, field)
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


class _Budget:
    """Counts the keys and list items of one value while it is converted."""

    def __init__(self) -> None:
        self.nodes = 0

    def spend(self, count: int, field: Field) -> None:
        self.nodes += count
        if self.nodes > limits.MAX_VALUE_NODES:
            raise DomainError(
                ErrorCode.LIMIT_EXCEEDED,
                f"a value holds at most {limits.MAX_VALUE_NODES} keys and list items in all",
                field,
            )


def _nested_scalar(typed: TypedValue, field: Field) -> Any:
    """A typed scalar as stored inside an object or a list of objects. A DATE is kept as its
    YYYY-MM-DD text there (ordered like the date; a BSON date would come back as a datetime)."""
    if typed.type is AttributeType.DATE:
        value = typed.value if isinstance(typed.value, date) else _parse_iso(str(typed.value), typed.type, field)
        return value.isoformat()
    return scalar_to_bson(typed, field)


def _typed_field(value: Any, expected: AttributeType, field: Field) -> Any:
    """An object field whose type a definition fixes."""
    if expected in (AttributeType.DATE, AttributeType.DATETIME):
        if not isinstance(value, str):
            raise DomainError(ErrorCode.TYPE_MISMATCH, f"expected an ISO {expected.lower()} string", field)
        return _nested_scalar(TypedValue(expected, _parse_iso(value, expected, field)), field)
    if expected is AttributeType.NUMBER and isinstance(value, str | int | float) and not isinstance(value, bool):
        text = value if isinstance(value, str) else _number_text(value, field)
        return _nested_scalar(TypedValue(expected, text), field)
    if expected is AttributeType.BOOLEAN and isinstance(value, bool):
        return value
    if expected is AttributeType.STRING and isinstance(value, str):
        return check_string(value, field)
    raise DomainError(ErrorCode.TYPE_MISMATCH, f"expected a {expected.lower()} value", field)


def _json_to_bson(value: Any, depth: int, field: Field, budget: _Budget) -> Any:
    """Any JSON inside an OBJECT or LIST_OF_OBJECTS value; ``depth`` is the object level."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return _nested_scalar(TypedValue(AttributeType.NUMBER, _number_text(value, field)), field)
    if isinstance(value, str):
        return check_string(value, field)
    if isinstance(value, Mapping):
        return object_to_bson(value, field, depth=depth + 1, budget=budget)
    if isinstance(value, list):
        return _list_to_bson(value, depth, field, budget)
    raise DomainError(ErrorCode.TYPE_MISMATCH, "not a JSON value", field)


def _number_text(value: int | float, field: Field) -> str:
    # str() of a huge int is slow (and refused past 4,300 digits): its size says enough.
    if isinstance(value, int) and value.bit_length() > 4 * limits.MAX_NUMBER_DIGITS:
        raise DomainError(ErrorCode.LIMIT_EXCEEDED, f"a number has at most {limits.MAX_NUMBER_DIGITS} digits", field)
    return str(value)


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "object" if isinstance(value, Mapping) else "list"


def _list_to_bson(items: list[Any], depth: int, field: Field, budget: _Budget) -> list[Any]:
    if len(items) > limits.MAX_LIST_LENGTH:
        raise DomainError(ErrorCode.LIMIT_EXCEEDED, f"a list has at most {limits.MAX_LIST_LENGTH} items", field)
    budget.spend(len(items), field)
    kinds = {_kind_of(item) for item in items}
    if len(kinds) > 1:
        raise DomainError(
            ErrorCode.TYPE_MISMATCH, f"a list holds values of one type, not {', '.join(sorted(kinds))}", field
        )
    if kinds == {"list"}:
        raise DomainError(ErrorCode.TYPE_MISMATCH, "a list may not hold lists", field)
    return [_json_to_bson(item, depth, (*field, index), budget) for index, item in enumerate(items)]


def object_to_bson(
    value: Any,
    field: Field,
    object_fields: Mapping[str, AttributeType] | None = None,
    *,
    depth: int = 1,
    budget: _Budget | None = None,
) -> dict[str, Any]:
    """One object: keys follow the key rules at every level; values are JSON (typed by a
    definition's object fields when given) within the depth, count and size limits."""
    budget = budget or _Budget()
    if not isinstance(value, Mapping):
        raise DomainError(ErrorCode.TYPE_MISMATCH, "expected an object", field)
    if depth > limits.MAX_OBJECT_DEPTH:
        raise DomainError(
            ErrorCode.LIMIT_EXCEEDED, f"objects nest at most {limits.MAX_OBJECT_DEPTH} levels deep", field
        )
    if len(value) > limits.MAX_OBJECT_FIELDS:
        raise DomainError(ErrorCode.LIMIT_EXCEEDED, f"an object has at most {limits.MAX_OBJECT_FIELDS} keys", field)
    budget.spend(len(value), field)
    converted: dict[str, Any] = {}
    for name, item in value.items():
        name_field = (*field, str(name)[:64])
        validate_key(str(name), name_field)
        if object_fields is not None:
            if name not in object_fields:
                raise DomainError(ErrorCode.TYPE_MISMATCH, f"{name!r} is not a field of this attribute", name_field)
            converted[name] = None if item is None else _typed_field(item, object_fields[name], name_field)
        else:
            converted[name] = _json_to_bson(item, depth, name_field, budget)
    return converted


def objects_to_bson(
    objects: Sequence[Any], field: Field, object_fields: Mapping[str, AttributeType] | None = None
) -> list[dict[str, Any]]:
    """LIST_OF_OBJECTS: objects (typed by a definition's object fields when given)."""
    if len(objects) > limits.MAX_LIST_LENGTH:
        raise DomainError(ErrorCode.LIMIT_EXCEEDED, f"a list has at most {limits.MAX_LIST_LENGTH} objects", field)
    budget = _Budget()
    budget.spend(len(objects), field)
    result: list[dict[str, Any]] = []
    for index, item in enumerate(objects):
        item_field = (*field, index)
        if not isinstance(item, Mapping):
            raise DomainError(ErrorCode.TYPE_MISMATCH, "each list item must be an object", item_field)
        result.append(object_to_bson(item, item_field, object_fields, budget=budget))
    return result


def _scalar_list(typed: TypedValue, field: Field) -> list[Any]:
    items = typed.value
    if not isinstance(items, list | tuple):
        raise DomainError(ErrorCode.TYPE_MISMATCH, "expected a list", field)
    if len(items) > limits.MAX_LIST_LENGTH:
        raise DomainError(ErrorCode.LIMIT_EXCEEDED, f"a list has at most {limits.MAX_LIST_LENGTH} items", field)
    item_type = LIST_ITEM_TYPES[AttributeType(str(typed.type))]
    return [scalar_to_bson(TypedValue(item_type, item), (*field, index)) for index, item in enumerate(items)]


def _check_size(value: Any, field: Field) -> Any:
    if decimals.encoded_size(value) > limits.MAX_VALUE_BYTES:
        raise DomainError(
            ErrorCode.LIMIT_EXCEEDED, f"a value is at most {limits.MAX_VALUE_BYTES // 1024} KiB as stored", field
        )
    return value


def to_bson(typed: TypedValue, field: Field, object_fields: Mapping[str, AttributeType] | None = None) -> Any:
    """Validate a typed value and convert it to what is stored. ``object_fields``: a
    definition's field types for OBJECT and LIST_OF_OBJECTS values."""
    match typed.type:
        case AttributeType.LIST_OF_OBJECTS:
            if not isinstance(typed.value, list | tuple):
                raise DomainError(ErrorCode.TYPE_MISMATCH, "expected a list of objects", field)
            return _check_size(objects_to_bson(typed.value, field, object_fields), field)
        case AttributeType.OBJECT:
            return _check_size(object_to_bson(typed.value, field, object_fields), field)
        case AttributeType.LIST_OF_STRINGS | AttributeType.LIST_OF_NUMBERS:
            return _check_size(_scalar_list(typed, field), field)
    return scalar_to_bson(typed, field)


def nested_to_bson(typed: TypedValue, field: Field) -> Any:
    """A typed value placed inside an OBJECT (by a path): stored as it would be there."""
    match typed.type:
        case AttributeType.OBJECT | AttributeType.LIST_OF_OBJECTS:
            return to_bson(typed, field)
        case AttributeType.LIST_OF_STRINGS | AttributeType.LIST_OF_NUMBERS:
            return _check_size(_scalar_list(typed, field), field)
    return _nested_scalar(typed, field)


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


def _decimal_text(number: Decimal) -> str:
    exponent = number.as_tuple().exponent
    plain = isinstance(exponent, int) and -30 <= exponent <= 30
    return format(number, "f") if plain else str(number)


def _json_scalar(value: Any) -> Any:
    number = decimals.stored_decimal(value)
    if number is not None:
        return _decimal_text(number)
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return value


def _json_number(number: Decimal) -> int | float | str:
    """A number inside an object as a JSON number; text only where a JSON (double) number
    would change its value."""
    if number == number.to_integral_value() and abs(number) < 2**63:
        return int(number)
    as_float = float(number)
    return as_float if Decimal(repr(as_float)) == number else _decimal_text(number)


def _json_nested(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {name: _json_nested(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_json_nested(item) for item in value]
    number = decimals.stored_decimal(value)
    if number is not None:
        return _json_number(number)
    return _json_scalar(value)


def from_bson(kind: AttributeType, value: Any) -> Any:
    """The JSON a client sees: NUMBER as decimal text, DATE as YYYY-MM-DD, DATETIME as RFC 3339;
    inside objects numbers are JSON numbers and dates YYYY-MM-DD."""
    if value is None:
        return None
    if kind is AttributeType.DATE and isinstance(value, datetime):
        return value.date().isoformat()
    if kind in (AttributeType.LIST_OF_OBJECTS, AttributeType.OBJECT):
        return _json_nested(value)
    if kind in LIST_ITEM_TYPES and isinstance(value, list):
        return [_json_scalar(item) for item in value]
    return _json_scalar(value)
