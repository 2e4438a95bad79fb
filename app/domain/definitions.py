"""Attribute definitions: an app may fix the type of a custom attribute (and the fields of
its objects); values that do not match are TYPE_MISMATCH on every write path. In strict
mode (an app setting) keys without a definition are refused.

Write paths call :func:`load_rules` once per request (or per bulk batch) and check what
they are about to store with :func:`conform_patch` (patches) or :meth:`Rules.check`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from app.domain import apps, attributes, limits
from app.domain.app_settings import STRICT_ATTRIBUTES
from app.domain.attributes import SCALAR_TYPES, AttributeType, TypedValue
from app.domain.errors import DomainError, ErrorCode, ErrorCollector
from app.domain.profile import Field, ValidPatch
from app.store.client import Store
from app.store.errors import DuplicateKeyError

MAX_DEFINITIONS_PER_APP = 500
# The types whose values are objects: a definition may fix the types of their fields.
OBJECT_TYPES = frozenset({AttributeType.OBJECT, AttributeType.LIST_OF_OBJECTS})


@dataclass(frozen=True, slots=True)
class Definition:
    name: str
    type: AttributeType
    object_fields: dict[str, AttributeType] = field(default_factory=dict)

    @classmethod
    def of(cls, document: Mapping[str, Any]) -> Definition:
        return cls(
            name=document["name"],
            type=AttributeType(document["type"]),
            object_fields={item["name"]: AttributeType(item["type"]) for item in document.get("objectFields", [])},
        )


@dataclass(frozen=True, slots=True)
class Rules:
    """The definitions that concern one write, and whether undefined keys are refused."""

    definitions: dict[str, Definition]
    strict: bool = False

    def check(self, key: str, kind: AttributeType | None, key_path: Field, value_path: Field) -> Definition | None:
        """The key's definition after checking the key may be written with a value of ``kind``
        (None: the operation does not fix a type, e.g. unset)."""
        definition = self.definitions.get(key)
        if definition is None:
            if self.strict and kind is not None:
                raise DomainError(
                    ErrorCode.INVALID_KEY,
                    f"{key!r} is not a defined attribute and this app accepts defined attributes only",
                    key_path,
                )
            return None
        if kind is not None and kind is not definition.type:
            raise DomainError(
                ErrorCode.TYPE_MISMATCH,
                f"{key!r} is defined as {definition.type.value}, not {kind.value}",
                value_path,
            )
        return definition

    def to_bson(self, definition: Definition | None, typed: TypedValue, path: Field) -> Any:
        """A value as stored; OBJECT and LIST_OF_OBJECTS fields typed by the definition's
        object fields, when it has any."""
        fields = definition.object_fields if definition is not None and definition.object_fields else None
        return attributes.to_bson(typed, path, fields)


NO_RULES = Rules({})


async def load_rules(store: Store, app_id: str, keys: Iterable[str]) -> Rules:
    """The definitions of ``keys``, and the app's strict setting when one of them has no
    definition (it decides only about undefined keys)."""
    wanted = sorted(set(keys))
    if not wanted:
        return NO_RULES
    if store.definitions_cache.enabled:
        known = await _definitions_of(store, app_id)
        defined = {key: known[key] for key in wanted if key in known}
    else:
        # (appId, name) is unique, so the limit changes no answer; it bounds the read.
        found = store.attribute_definitions.find({"appId": app_id, "name": {"$in": wanted}}, limit=len(wanted))
        defined = {document["name"]: Definition.of(document) async for document in found}
    strict = any(key not in defined for key in wanted) and await is_strict(store, app_id)
    return Rules(defined, strict)


async def _definitions_of(store: Store, app_id: str) -> dict[str, Definition]:
    """All of the app's definitions (at most MAX_DEFINITIONS_PER_APP), kept per process for
    `app_key_cache_seconds`, as its settings are: every attribute write needs them, and a
    definition made through another process is in effect here within that delay, at once
    in the process that made it."""

    async def load() -> dict[str, Definition]:
        found = store.attribute_definitions.find({"appId": app_id}, limit=MAX_DEFINITIONS_PER_APP)
        return {document["name"]: Definition.of(document) async for document in found}

    return await store.definitions_cache.get_or_load(app_id, load) or {}


def conform_patch(valid: ValidPatch, rules: Rules) -> None:
    """Check a validated patch's custom attributes against the definitions; OBJECT and
    LIST_OF_OBJECTS values are converted again with the defined field types. Raises DomainErrors."""
    conform_values(valid.attribute_inputs, valid.attributes_set, rules)


def conform_values(
    inputs: Mapping[str, tuple[TypedValue, Field]],
    converted: dict[str, tuple[AttributeType, Any]],
    rules: Rules,
) -> None:
    """:func:`conform_patch` for any write that keeps what the client sent (``inputs``) next
    to its stored form (``converted``, updated in place)."""
    errors = ErrorCollector()
    for key, (typed, value_path) in inputs.items():
        key_path = (*value_path[:-1], "key")
        try:
            definition = rules.check(key, typed.type, key_path, value_path)
            if typed.type in OBJECT_TYPES and definition is not None and definition.object_fields:
                converted[key] = (typed.type, rules.to_bson(definition, typed, value_path))
        except DomainError as error:
            errors.add(error)
    errors.raise_if_any()


async def enforce(store: Store, app_id: str, valid: ValidPatch) -> None:
    """Load the rules a patch needs and check it: for write paths with a single patch."""
    await enforce_values(store, app_id, valid.attribute_inputs, valid.attributes_set)


async def enforce_values(
    store: Store,
    app_id: str,
    inputs: Mapping[str, tuple[TypedValue, Field]],
    converted: dict[str, tuple[AttributeType, Any]],
) -> None:
    if inputs:
        conform_values(inputs, converted, await load_rules(store, app_id, inputs))


def _object_fields(
    definition_type: AttributeType, fields: list[tuple[str, AttributeType]] | None
) -> dict[str, AttributeType]:
    if not fields:
        return {}
    if definition_type not in OBJECT_TYPES:
        raise DomainError(
            ErrorCode.INVALID_INPUT,
            "only OBJECT and LIST_OF_OBJECTS attributes have object fields",
            ("input", "objectFields"),
        )
    if len(fields) > limits.MAX_OBJECT_FIELDS:
        raise DomainError(ErrorCode.LIMIT_EXCEEDED, "too many object fields", ("input", "objectFields"))
    result: dict[str, AttributeType] = {}
    for index, (name, kind) in enumerate(fields):
        path = ("input", "objectFields", index)
        attributes.validate_key(name, (*path, "name"))
        if name in result:
            raise DomainError(ErrorCode.INVALID_INPUT, f"{name!r} is given twice", (*path, "name"))
        if kind not in SCALAR_TYPES:
            raise DomainError(ErrorCode.INVALID_INPUT, "object fields are of scalar types", (*path, "type"))
        result[name] = kind
    if len(result) > limits.MAX_OBJECT_FIELDS:
        raise DomainError(ErrorCode.LIMIT_EXCEEDED, "too many object fields", ("input", "objectFields"))
    return result


async def define_attribute(
    store: Store, app_id: str, name: str, kind: AttributeType, fields: list[tuple[str, AttributeType]] | None
) -> Definition:
    """Create a definition, or add object fields to an existing one. A type never changes."""
    attributes.validate_key(name, ("input", "name"))
    object_fields = _object_fields(kind, fields)
    existing_document = await store.attribute_definitions.find_one({"appId": app_id, "name": name})
    if existing_document is None:
        if await store.attribute_definitions.count_documents({"appId": app_id}) >= MAX_DEFINITIONS_PER_APP:
            raise DomainError(
                ErrorCode.LIMIT_EXCEEDED,
                f"an app has at most {MAX_DEFINITIONS_PER_APP} attribute definitions",
                ("input",),
            )
    else:
        existing = Definition.of(existing_document)
        if existing.type is not kind:
            raise _type_fixed(existing)
        for index, (field_name, field_kind) in enumerate(fields or []):
            if existing.object_fields.get(field_name, field_kind) is not field_kind:
                raise DomainError(
                    ErrorCode.TYPE_MISMATCH,
                    f"object field {field_name!r} is {existing.object_fields[field_name].value}; "
                    "its type cannot change",
                    ("input", "objectFields", index, "type"),
                )
        object_fields = {**existing.object_fields, **object_fields}
    now = datetime.now(UTC)
    try:
        # The filter includes the type: a concurrent definition with another type makes the
        # upsert collide on the unique (appId, name) index instead of changing the type.
        await store.attribute_definitions.update_one(
            {"appId": app_id, "name": name, "type": kind.value},
            {
                "$set": {
                    "objectFields": [{"name": key, "type": value.value} for key, value in object_fields.items()],
                    "updatedAt": now,
                },
                "$setOnInsert": {"createdAt": now},
            },
            upsert=True,
        )
    except DuplicateKeyError:
        store.definitions_cache.forget(app_id)
        current = await store.attribute_definitions.find_one({"appId": app_id, "name": name})
        raise _type_fixed(Definition.of(current or {"name": name, "type": kind.value})) from None
    store.definitions_cache.forget(app_id)
    return Definition(name, kind, object_fields)


def _type_fixed(existing: Definition) -> DomainError:
    return DomainError(
        ErrorCode.TYPE_MISMATCH,
        f"{existing.name!r} is defined as {existing.type.value}; a defined type cannot change",
        ("input", "type"),
    )


async def list_definitions(store: Store, app_id: str) -> list[Definition]:
    found = store.attribute_definitions.find({"appId": app_id}).sort("name", 1)
    return [Definition.of(document) async for document in found]


async def set_strict(store: Store, app_id: str, strict: bool) -> bool:
    await store.apps.update_one({"_id": app_id}, {"$set": {f"settings.{STRICT_ATTRIBUTES}": strict}})
    apps.settings_changed(store, app_id)
    return strict


async def is_strict(store: Store, app_id: str) -> bool:
    return (await apps.settings_of(store, app_id)).strict_attributes
