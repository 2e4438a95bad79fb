"""UserFilter → a store query. Every key is validated and every value typed before it is
placed in the query, and the query's operators come only from this module: nothing a
client sends can become an operator or a field path."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.domain import attributes
from app.domain.attributes import AttributeType, TypedValue
from app.domain.channel_specs import ChannelType
from app.domain.errors import DomainError, DomainErrors, ErrorCode, ErrorCollector
from app.domain.identifiers import normalize_tags
from app.domain.profile import ProfileType

Document = dict[str, Any]
Field = tuple[str | int, ...]

MAX_ATTRIBUTE_CONDITIONS = 20
MAX_IN_VALUES = 100

# GraphQL argument name → store operator. The operator text never comes from input.
COMPARISONS = {"eq": "$eq", "ne": "$ne", "gt": "$gt", "gte": "$gte", "lt": "$lt", "lte": "$lte"}


@dataclass(frozen=True, slots=True)
class AttributeCondition:
    """A key plus exactly one comparison (the fields that are None were not given)."""

    key: str
    eq: TypedValue | None = None
    ne: TypedValue | None = None
    gt: TypedValue | None = None
    gte: TypedValue | None = None
    lt: TypedValue | None = None
    lte: TypedValue | None = None
    in_: Sequence[TypedValue] | None = None
    exists: bool | None = None
    contains: TypedValue | None = None
    path: Sequence[str] | None = None  # into an OBJECT value: a list of keys


@dataclass(frozen=True, slots=True)
class UserFilter:
    """All given conditions must hold."""

    type: ProfileType | None = None
    tags_all: Sequence[str] | None = None
    tags_any: Sequence[str] | None = None
    attributes: Sequence[AttributeCondition] | None = None
    has_channel: ChannelType | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None


def live_users(app_id: str) -> Document:
    """The users of an app, without merge tombstones (they only redirect look-ups)."""
    return {"appId": app_id, "mergedInto": {"$exists": False}}


def compile_filter(app_id: str, given: UserFilter | None, path: Field = ("filter",)) -> Document:
    """The store query for ``given``; all input errors are reported together."""
    query = live_users(app_id)
    if given is None:
        return query
    clauses: list[Document] = []
    errors = ErrorCollector()
    if given.type is not None:
        clauses.append({"type": given.type.value})
    for name, operator in (("tags_all", "$all"), ("tags_any", "$in")):
        tags = getattr(given, name)
        if tags is not None:
            camel = "tagsAll" if name == "tags_all" else "tagsAny"
            try:
                clauses.append({"tags": {operator: normalize_tags(tags, (*path, camel))}})
            except DomainError as error:
                errors.add(error)
    if given.has_channel is not None:
        clauses.append({"channelTypes": ChannelType(given.has_channel).value})
    created: Document = {}
    if given.created_after is not None:
        created["$gt"] = given.created_after
    if given.created_before is not None:
        created["$lt"] = given.created_before
    if created:
        clauses.append({"createdAt": created})
    conditions = given.attributes or []
    if len(conditions) > MAX_ATTRIBUTE_CONDITIONS:
        errors.add(
            DomainError(
                ErrorCode.LIMIT_EXCEEDED,
                f"a filter has at most {MAX_ATTRIBUTE_CONDITIONS} attribute conditions",
                (*path, "attributes"),
            )
        )
        conditions = []
    for index, condition in enumerate(conditions):
        try:
            clauses.append(compile_condition(condition, (*path, "attributes", index)))
        except DomainError as error:
            errors.add(error)
        except DomainErrors as many:
            errors.errors.extend(many.errors)
    errors.raise_if_any()
    if clauses:
        # $and keeps two conditions on one key apart (a dict would let one overwrite the other).
        query["$and"] = clauses
    return query


def matches_missing_keys(query: Document) -> bool:
    """Whether a compiled filter has a condition that also matches users without the key
    (`ne`, `exists: false`). No index entry names a missing key, so on MongoDB too such a
    filter is checked user by user rather than narrowed by an index."""
    return any(
        isinstance(condition, dict) and ("$ne" in condition or condition.get("$exists") is False)
        for clause in query.get("$and", ())
        for condition in clause.values()
    )


def names_attributes(query: Document) -> bool:
    """Whether a compiled filter has attribute conditions (fields under ``attrs``)."""
    return any(field.startswith("attrs.") for clause in query.get("$and", ()) for field in clause)


def compile_condition(condition: AttributeCondition, path: Field) -> Document:
    key = attributes.validate_key(condition.key, (*path, "key"))
    segments: tuple[str, ...] = ()
    if condition.path is not None:
        segments = attributes.validate_path(condition.path, (*path, "path"))
    # Safe as a field path: the key and every segment matched ^[A-Za-z][A-Za-z0-9_]*$.
    field_path = ".".join(("attrs", key, *segments))
    given = [name for name in (*COMPARISONS, "in_", "exists", "contains") if getattr(condition, name) is not None]
    if len(given) != 1:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            "an attribute condition needs exactly one of eq, ne, gt, gte, lt, lte, in, exists, contains",
            path,
        )
    name = given[0]
    type_path = f"attrMeta.{key}.type"
    if name == "exists":
        return {field_path: {"$exists": bool(condition.exists)}}
    if name == "in_":
        values = list(condition.in_ or [])
        if len(values) > MAX_IN_VALUES:
            raise DomainError(
                ErrorCode.LIMIT_EXCEEDED,
                f"`in` takes at most {MAX_IN_VALUES} values",
                (*path, "in"),
            )
        converted = [_comparable(value, (*path, "in", index), segments) for index, value in enumerate(values)]
        types = [AttributeType.OBJECT.value] if segments else sorted({str(value.type) for value in values})
        return {field_path: {"$in": converted}, type_path: {"$in": types}}
    if name == "contains":
        return _contains(condition.contains, field_path, type_path, segments, (*path, "contains"))
    value: TypedValue = getattr(condition, name)
    clause: Document = {field_path: {COMPARISONS[name]: _comparable(value, (*path, name), segments)}}
    if name != "ne":
        # Values compare within their own attribute type: a NUMBER condition never matches
        # a STRING "149.99", and DATE never a DATETIME. MongoDB's type bracketing does most
        # of this, but not DATE vs DATETIME (both BSON dates), and the embedded store
        # compares across types; the stored type makes it explicit on both. `ne` keeps
        # MongoDB's meaning: anything but this value, including users without the key.
        # Inside an OBJECT the attribute's type is OBJECT; BSON types keep values apart there.
        clause[type_path] = AttributeType.OBJECT.value if segments else str(value.type)
    return clause


def _contains(
    value: TypedValue | None, field_path: str, type_path: str, segments: tuple[str, ...], path: Field
) -> Document:
    """List membership: a LIST_OF_STRINGS or LIST_OF_NUMBERS (or a list inside an OBJECT)
    holding this string or number."""
    if value is None or value.type not in attributes.LIST_OF:
        raise DomainError(ErrorCode.TYPE_MISMATCH, "contains takes a string or a number", path)
    item = _comparable(value, path, segments)
    if segments:  # inside an OBJECT the value there may be a scalar: only a list holding it
        return {field_path: {"$elemMatch": {"$eq": item}}, type_path: AttributeType.OBJECT.value}
    # The stored type says the value is a list, so plain equality (which matches an element
    # of a list) means the same: the embedded store runs it in SQL, where `$elemMatch`
    # decoded every user of the collection (an app of 50,000 users: 3.8 s for a page).
    return {field_path: item, type_path: attributes.LIST_OF[value.type].value}


def _comparable(value: TypedValue, path: Field, segments: tuple[str, ...] = ()) -> Any:
    """A typed scalar as stored (inside an object when ``segments``), so it compares with
    stored values of the same type."""
    if value.type is None:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            "compare with a value; use `exists: false` for unset attributes",
            path,
        )
    if value.type not in attributes.SCALAR_TYPES:
        raise DomainError(
            ErrorCode.TYPE_MISMATCH, "compare with a scalar value; use `contains` for list membership", path
        )
    return attributes.nested_to_bson(value, path) if segments else attributes.to_bson(value, path)
