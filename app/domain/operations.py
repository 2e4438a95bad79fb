"""Property operations (set, setOnce, increment, append, remove, unset) turned into ONE
pipeline update, so a batch applies atomically and concurrent increments never lose a count.

Type rules that depend on the stored value (increment needs a NUMBER, append/remove a
LIST_OF_OBJECTS, lists and attribute counts have limits) are guards in the update's filter:
when the filter does not match, the document is read once to say which guard failed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from bson.decimal128 import Decimal128

from app.domain import attributes, limits
from app.domain.attributes import AttributeType, TypedValue
from app.domain.definitions import Rules
from app.domain.errors import DomainError, ErrorCode, ErrorCollector

OpKind = Literal["set", "setOnce", "increment", "append", "remove", "unset"]
Document = dict[str, Any]
Path = tuple[str | int, ...]
_ZERO = Decimal128("0")


@dataclass(frozen=True, slots=True)
class AttributeOp:
    """One operation on one key. ``value`` for set/setOnce/append/remove, ``amount`` for increment."""

    kind: OpKind
    key: str
    value: TypedValue | None = None
    amount: str | None = None


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


def _objects(op: AttributeOp, rules: Rules, key_path: Path, value_path: Path) -> list[dict[str, Any]]:
    typed = op.value
    if typed is None or typed.type is not AttributeType.LIST_OF_OBJECTS:
        raise DomainError(ErrorCode.TYPE_MISMATCH, f"{op.kind} takes objects (LIST_OF_OBJECTS)", value_path)
    definition = rules.check(op.key, AttributeType.LIST_OF_OBJECTS, key_path, value_path)
    objects: list[dict[str, Any]] = rules.objects_to_bson(definition, typed.value, value_path)
    return objects


def _add_op(plan: Plan, op: AttributeOp, rules: Rules, path: Path, now: datetime) -> None:
    key = op.key
    key_path: Path = path if op.kind == "unset" else (*path, "key")
    value_path: Path = (*path, "value")
    attrs, meta = f"attrs.{key}", f"attrMeta.{key}"
    typed = op.value
    if op.kind == "unset" or (op.kind == "set" and typed is not None and typed.type is None):
        rules.check(key, None, key_path, value_path)
        plan.unset += [attrs, meta]
    elif op.kind in ("set", "setOnce"):
        if typed is None or typed.type is None:
            raise DomainError(ErrorCode.INVALID_INPUT, "setOnce needs a value", value_path)
        definition = rules.check(key, typed.type, key_path, value_path)
        if typed.type is AttributeType.LIST_OF_OBJECTS:
            stored = rules.objects_to_bson(definition, typed.value, value_path)
        else:
            stored = attributes.to_bson(typed, value_path)
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
    elif op.kind == "append":
        objects = _objects(op, rules, key_path, value_path)
        _type_guard(plan, key, AttributeType.LIST_OF_OBJECTS, key_path, "append to")
        _length_guard(plan, key, len(objects), value_path)
        plan.adding.append(key)
        plan.fields[attrs] = {"$concatArrays": [{"$ifNull": [f"${attrs}", []]}, {"$literal": objects}]}
        plan.fields[meta] = _meta(AttributeType.LIST_OF_OBJECTS, now)
    else:  # remove: every stored object equal to one of the given ones; a missing key stays missing
        objects = _objects(op, rules, key_path, value_path)
        _type_guard(plan, key, AttributeType.LIST_OF_OBJECTS, key_path, "remove from")
        kept = {"$filter": {"input": f"${attrs}", "cond": {"$eq": [{"$in": ["$$this", {"$literal": objects}]}, False]}}}
        plan.fields[attrs] = {"$cond": [_missing(key), "$$REMOVE", kept]}
        plan.fields[meta] = {"$cond": [_missing(key), "$$REMOVE", _meta(AttributeType.LIST_OF_OBJECTS, now)]}


def _length_guard(plan: Plan, key: str, added: int, value_path: Path) -> None:
    # The list may hold at most MAX - added items before the update: no item at that index.
    plan.guards.append({f"attrs.{key}.{limits.MAX_LIST_LENGTH - added}": {"$exists": False}})

    def check(document: Document) -> DomainError | None:
        current = document.get("attrs", {}).get(key)
        if isinstance(current, list) and len(current) + added > limits.MAX_LIST_LENGTH:
            return DomainError(
                ErrorCode.LIMIT_EXCEEDED, f"a list has at most {limits.MAX_LIST_LENGTH} objects", value_path
            )
        return None

    plan.diagnoses.append(check)


def plan_operations(ops: Sequence[AttributeOp], rules: Rules, now: datetime, path: Path = ("ops",)) -> Plan:
    """Validate every operation (collecting all errors) and build the update. Raises DomainErrors."""
    errors = ErrorCollector()
    if not ops:
        errors.add(DomainError(ErrorCode.INVALID_INPUT, "give at least one operation", path))
    if len(ops) > limits.MAX_OPERATIONS_PER_CALL:
        errors.add(
            DomainError(ErrorCode.LIMIT_EXCEEDED, f"at most {limits.MAX_OPERATIONS_PER_CALL} operations per call", path)
        )
    errors.raise_if_any()
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
