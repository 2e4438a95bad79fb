"""Property operations (set, setOnce, increment, append, remove, unset) turned into ONE
pipeline update, so a batch applies atomically and concurrent increments never lose a count.

Type rules that depend on the stored value (increment needs a NUMBER, append/remove a list
of the item's type, a path needs an OBJECT, lists and attribute counts have limits) are
guards in the update's filter: when the filter does not match, the document is read once to
say which guard failed.

A value inside an OBJECT is set or unset by a path (a list of validated keys). The update
builds the new object with ``$getField``/``$setField`` whose field names are ``$literal``
strings, so no path segment is ever read as a field path or an operator.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from app.domain import attributes, limits
from app.domain.attributes import AttributeType, TypedValue
from app.domain.definitions import Rules
from app.domain.errors import DomainError, ErrorCode, ErrorCollector
from app.store import decimals

OpKind = Literal["set", "setOnce", "increment", "append", "remove", "unset", "unsetPath"]
Document = dict[str, Any]
Path = tuple[str | int, ...]
_ZERO = decimals.ZERO


@dataclass(frozen=True, slots=True)
class AttributeOp:
    """One operation on one key. ``value`` for set/setOnce/append/remove, ``amount`` for increment."""

    kind: OpKind
    key: str
    value: TypedValue | None = None
    amount: str | None = None
    path: tuple[str, ...] | None = None  # set/unsetPath: a value inside an OBJECT


Diagnosis = Callable[[Document], DomainError | None]


@dataclass(slots=True)
class Plan:
    """The update pipeline, the guards of its filter, and how to explain a guard that failed."""

    fields: dict[str, Any] = field(default_factory=dict)
    unset: list[str] = field(default_factory=list)
    guards: list[dict[str, Any]] = field(default_factory=list)
    diagnoses: list[Diagnosis] = field(default_factory=list)
    adding: list[str] = field(default_factory=list)  # keys that may be new

    def pipeline(self) -> list[dict[str, Any]]:
        stages: list[dict[str, Any]] = [{"$set": self.fields}]
        if self.unset:
            stages.append({"$unset": self.unset})
        return stages

    def filter(self, selector: dict[str, Any]) -> dict[str, Any]:
        query = dict(selector)
        if self.guards:
            query["$and"] = self.guards
        if self.adding:
            # The attribute count after the update (existing keys united with the new ones).
            existing = {"$map": {"input": {"$objectToArray": {"$ifNull": ["$attrs", {}]}}, "in": "$$this.k"}}
            united = {"$size": {"$setUnion": [existing, {"$literal": self.adding}]}}
            query["$expr"] = {"$lte": [united, limits.MAX_CUSTOM_ATTRIBUTES_PER_USER]}
        return query

    def diagnose(self, document: Document) -> list[DomainError]:
        errors = [error for check in self.diagnoses if (error := check(document)) is not None]
        keys = set(document.get("attrs", {})) | set(self.adding)
        if len(keys) > limits.MAX_CUSTOM_ATTRIBUTES_PER_USER:
            errors.append(
                DomainError(
                    ErrorCode.LIMIT_EXCEEDED,
                    f"at most {limits.MAX_CUSTOM_ATTRIBUTES_PER_USER} custom attributes",
                    ("ops",),
                )
            )
        return errors


def _meta(kind: AttributeType, now: datetime) -> dict[str, Any]:
    return {"$literal": {"type": kind.value, "updatedAt": now}}


def _missing(key: str) -> dict[str, Any]:
    return {"$eq": [{"$type": f"$attrs.{key}"}, "missing"]}


def _type_guard(plan: Plan, key: str, kind: AttributeType, key_path: Path, verb: str) -> None:
    plan.guards.append({"$or": [{f"attrMeta.{key}": {"$exists": False}}, {f"attrMeta.{key}.type": kind.value}]})

    def check(document: Document) -> DomainError | None:
        stored = (document.get("attrMeta", {}).get(key) or {}).get("type")
        if stored is None or stored == kind.value:
            return None
        return DomainError(ErrorCode.TYPE_MISMATCH, f"cannot {verb} {key!r}: it holds a {stored} value", key_path)

    plan.diagnoses.append(check)


# One item appended or removed: the list type it belongs to.
_APPENDED_TO = {**attributes.LIST_OF, AttributeType.OBJECT: AttributeType.LIST_OF_OBJECTS}


def _list_items(op: AttributeOp, rules: Rules, key_path: Path, value_path: Path) -> tuple[AttributeType, list[Any]]:
    """append/remove: one string, number or object goes to a list of its type; lists as given."""
    typed = op.value
    kind = None if typed is None or typed.type is None else _APPENDED_TO.get(typed.type, typed.type)
    if typed is None or kind not in attributes.LIST_TYPES:
        raise DomainError(
            ErrorCode.TYPE_MISMATCH,
            f"{op.kind} takes a string, a number, strings, numbers or objects",
            value_path,
        )
    assert kind is not None
    items = typed.value if typed.type in attributes.LIST_TYPES else [typed.value]
    definition = rules.check(op.key, kind, key_path, value_path)
    stored: list[Any] = rules.to_bson(definition, TypedValue(kind, items), value_path)
    return kind, stored


def _get(document: Any, segment: str) -> dict[str, Any]:
    return {"$getField": {"field": {"$literal": segment}, "input": document}}


def _within(document: Any, path: Sequence[str]) -> Any:
    """The value at ``path`` inside ``document``; null where a level is not an object (a
    plain $getField on a string is an error in MongoDB)."""
    current = document
    for segment in path:
        current = {"$cond": [{"$eq": [{"$type": current}, "object"]}, _get(current, segment), None]}
    return current


def _put(document: Any, path: Sequence[str], value: Any) -> dict[str, Any]:
    """``document`` with ``value`` at ``path`` (missing levels become objects). ``value``
    None removes the last key (``$setField`` with ``$$REMOVE``, done with ``$objectToArray``
    because the embedded store does not support that form)."""
    base = {"$ifNull": [document, {}]}
    head, rest = path[0], path[1:]
    if rest:
        return {"$setField": {"field": {"$literal": head}, "input": base, "value": _put(_get(base, head), rest, value)}}
    if value is None:
        kept = {"$filter": {"input": {"$objectToArray": base}, "cond": {"$ne": ["$$this.k", {"$literal": head}]}}}
        return {"$arrayToObject": [kept]}
    return {"$setField": {"field": {"$literal": head}, "input": base, "value": {"$literal": value}}}


def _depth(value: Any) -> int:
    """Object levels in a stored value."""
    if isinstance(value, dict):
        return 1 + max((_depth(item) for item in value.values()), default=0)
    if isinstance(value, list):
        return max((_depth(item) for item in value), default=0)
    return 0


def _path_guards(plan: Plan, key: str, path: tuple[str, ...], new_value: Any, value_path: Path) -> None:
    """Every level above the target is an object (or missing); after a set, the target's
    object keeps within the key limit."""
    attribute = f"$attrs.{key}"
    levels = [_within(attribute, path[:depth]) for depth in range(1, len(path))]
    checks: list[Any] = [{"$in": [{"$type": level}, ["object", "missing", "null"]]} for level in levels]
    if new_value is not None:
        parent = {"$ifNull": [_within(attribute, path[:-1]), {}]}
        names = {"$map": {"input": {"$objectToArray": parent}, "in": "$$this.k"}}
        united = {"$size": {"$setUnion": [names, {"$literal": [path[-1]]}]}}
        checks.append({"$lte": [united, limits.MAX_OBJECT_FIELDS]})
        # No $bsonSize guard on the whole value: the embedded store cannot size Decimal128
        # values. The key and depth limits per level and the size of what is set bound it.
    plan.guards.append({"$expr": {"$and": checks}})

    def check(document: Document) -> DomainError | None:
        if (document.get("attrMeta", {}).get(key) or {}).get("type") not in (None, AttributeType.OBJECT.value):
            return None  # the type guard explains it
        current: Any = document.get("attrs", {}).get(key)
        for segment in path[:-1]:
            if current is None:
                return None
            if not isinstance(current, dict):
                break
            current = current.get(segment)
        if current is not None and not isinstance(current, dict):
            return DomainError(
                ErrorCode.TYPE_MISMATCH, "the path leads through a value that is not an object", value_path
            )
        if new_value is not None and isinstance(current, dict) and len({*current, path[-1]}) > limits.MAX_OBJECT_FIELDS:
            return DomainError(
                ErrorCode.LIMIT_EXCEEDED, f"an object has at most {limits.MAX_OBJECT_FIELDS} keys", value_path
            )
        return None

    plan.diagnoses.append(check)


def _add_path_op(plan: Plan, op: AttributeOp, rules: Rules, path: Path, now: datetime) -> None:
    """set/unset of one value inside an OBJECT attribute."""
    assert op.path is not None
    key, attrs, meta = op.key, f"attrs.{op.key}", f"attrMeta.{op.key}"
    key_path: Path = (*path, "key")
    value_path: Path = (*path, "value")
    segments = attributes.validate_path(op.path, (*path, "path"))
    typed = op.value
    removing = op.kind == "unsetPath" or (typed is not None and typed.type is None)
    if op.kind not in ("set", "unsetPath"):
        raise DomainError(ErrorCode.INVALID_INPUT, "a path goes with set or unsetPath only", (*path, "path"))
    definition = rules.check(key, AttributeType.OBJECT, key_path, value_path)
    if definition is not None and definition.object_fields:
        raise DomainError(
            ErrorCode.TYPE_MISMATCH, f"{key!r} has defined object fields: set the whole object", (*path, "path")
        )
    _type_guard(plan, key, AttributeType.OBJECT, key_path, "set a path in")
    if removing:
        _path_guards(plan, key, segments, None, value_path)
        # Where a level above the target is missing there is nothing to remove: the value stays
        # as it is (building the path would add empty objects).
        parent_is_object = {"$eq": [{"$type": _within(f"${attrs}", segments[:-1])}, "object"]}
        removed = {"$cond": [parent_is_object, _put(f"${attrs}", segments, None), f"${attrs}"]}
        plan.fields[attrs] = {"$cond": [_missing(key), "$$REMOVE", removed]}
        plan.fields[meta] = {"$cond": [_missing(key), "$$REMOVE", _meta(AttributeType.OBJECT, now)]}
        return
    assert typed is not None and typed.type is not None
    value = attributes.nested_to_bson(typed, value_path)
    if len(segments) + _depth(value) > limits.MAX_OBJECT_DEPTH:
        raise DomainError(
            ErrorCode.LIMIT_EXCEEDED, f"objects nest at most {limits.MAX_OBJECT_DEPTH} levels deep", value_path
        )
    _path_guards(plan, key, segments, value, value_path)
    plan.adding.append(key)
    plan.fields[attrs] = _put(f"${attrs}", segments, value)
    plan.fields[meta] = _meta(AttributeType.OBJECT, now)


def _add_op(plan: Plan, op: AttributeOp, rules: Rules, path: Path, now: datetime) -> None:
    key = op.key
    key_path: Path = path if op.kind == "unset" else (*path, "key")
    value_path: Path = (*path, "value")
    attrs, meta = f"attrs.{key}", f"attrMeta.{key}"
    typed = op.value
    if op.path is not None:
        _add_path_op(plan, op, rules, path, now)
    elif op.kind == "unset" or (op.kind == "set" and typed is not None and typed.type is None):
        rules.check(key, None, key_path, value_path)
        plan.unset += [attrs, meta]
    elif op.kind in ("set", "setOnce"):
        if typed is None or typed.type is None:
            raise DomainError(ErrorCode.INVALID_INPUT, "setOnce needs a value", value_path)
        definition = rules.check(key, typed.type, key_path, value_path)
        stored = rules.to_bson(definition, typed, value_path)
        plan.adding.append(key)
        if op.kind == "set":
            plan.fields[attrs] = {"$literal": stored}
            plan.fields[meta] = _meta(typed.type, now)
        else:  # only where no value exists; stored values are never null
            plan.fields[attrs] = {"$ifNull": [f"${attrs}", {"$literal": stored}]}
            plan.fields[meta] = {"$ifNull": [f"${meta}", _meta(typed.type, now)]}
    elif op.kind == "increment":
        rules.check(key, AttributeType.NUMBER, key_path, (*path, "amount"))
        amount = attributes.to_decimal128(attributes.parse_decimal(op.amount or "", (*path, "amount")))
        _type_guard(plan, key, AttributeType.NUMBER, key_path, "increment")
        plan.adding.append(key)
        # Decimal128 addition is exact decimal arithmetic in the store: 0.1 + 0.2 == 0.3.
        plan.fields[attrs] = {"$add": [{"$ifNull": [f"${attrs}", _ZERO]}, amount]}
        plan.fields[meta] = _meta(AttributeType.NUMBER, now)
    elif op.kind == "append":  # a missing key becomes a list of the given items
        kind, items = _list_items(op, rules, key_path, value_path)
        _type_guard(plan, key, kind, key_path, "append to")
        _length_guard(plan, key, len(items), value_path)
        plan.adding.append(key)
        plan.fields[attrs] = {"$concatArrays": [{"$ifNull": [f"${attrs}", []]}, {"$literal": items}]}
        plan.fields[meta] = _meta(kind, now)
    else:  # remove: every stored item equal to one of the given ones; a missing key stays missing
        kind, items = _list_items(op, rules, key_path, value_path)
        _type_guard(plan, key, kind, key_path, "remove from")
        kept = {"$filter": {"input": f"${attrs}", "cond": {"$eq": [{"$in": ["$$this", {"$literal": items}]}, False]}}}
        plan.fields[attrs] = {"$cond": [_missing(key), "$$REMOVE", kept]}
        plan.fields[meta] = {"$cond": [_missing(key), "$$REMOVE", _meta(kind, now)]}


def _length_guard(plan: Plan, key: str, added: int, value_path: Path) -> None:
    # The list may hold at most MAX - added items before the update: no item at that index.
    plan.guards.append({f"attrs.{key}.{limits.MAX_LIST_LENGTH - added}": {"$exists": False}})

    def check(document: Document) -> DomainError | None:
        current = document.get("attrs", {}).get(key)
        if isinstance(current, list) and len(current) + added > limits.MAX_LIST_LENGTH:
            return DomainError(
                ErrorCode.LIMIT_EXCEEDED, f"a list has at most {limits.MAX_LIST_LENGTH} items", value_path
            )
        return None

    plan.diagnoses.append(check)


def check_operation_count(ops: Sequence[AttributeOp], path: Path = ("ops",)) -> None:
    """The batch's size, checked before anything is read from the store."""
    if not ops:
        raise DomainError(ErrorCode.INVALID_INPUT, "give at least one operation", path)
    if len(ops) > limits.MAX_OPERATIONS_PER_CALL:
        raise operation_count_error(path)


def operation_count_error(path: Path = ("ops",)) -> DomainError:
    return DomainError(ErrorCode.LIMIT_EXCEEDED, f"at most {limits.MAX_OPERATIONS_PER_CALL} operations per call", path)


def plan_operations(ops: Sequence[AttributeOp], rules: Rules, now: datetime, path: Path = ("ops",)) -> Plan:
    """Validate every operation (collecting all errors) and build the update. Raises DomainErrors."""
    check_operation_count(ops, path)
    errors = ErrorCollector()
    plan = Plan()
    seen: set[str] = set()
    for index, op in enumerate(ops):
        op_path: Path = (*path, index, op.kind)
        key_path = op_path if op.kind == "unset" else (*op_path, "key")
        try:
            attributes.validate_key(op.key, key_path)
            if op.key in seen:
                raise DomainError(ErrorCode.INVALID_INPUT, f"{op.key!r} has two operations in one batch", key_path)
            seen.add(op.key)
            _add_op(plan, op, rules, op_path, now)
        except DomainError as error:
            errors.add(error)
    errors.raise_if_any()
    plan.fields["version"] = {"$add": [{"$ifNull": ["$version", 0]}, 1]}
    plan.fields["updatedAt"] = {"$literal": now}
    return plan
