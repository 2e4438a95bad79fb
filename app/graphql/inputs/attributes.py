"""Typed attribute values and key/value inputs."""

from __future__ import annotations

from datetime import date, datetime

import strawberry
from strawberry.scalars import JSON

# The domain enum is the GraphQL enum (strawberry.enum registers the class itself).
import app.graphql.types.attributes  # noqa: F401
from app.domain.attributes import NULL, AttributeType, TypedValue
from app.domain.operations import AttributeOp as DomainAttributeOp
from app.graphql.inputs import given


@strawberry.input(one_of=True, description="A typed custom attribute value; `null: true` removes it.")
class AttributeValue:
    string: str | None = strawberry.field(default=strawberry.UNSET, description="STRING.")
    number: str | None = strawberry.field(default=strawberry.UNSET, description='Decimal as text, e.g. "149.99".')
    boolean: bool | None = strawberry.field(default=strawberry.UNSET, description="BOOLEAN.")
    date: date | None = strawberry.field(default=strawberry.UNSET, description="DATE (YYYY-MM-DD).")
    datetime: datetime | None = strawberry.field(
        default=strawberry.UNSET, description="DATETIME (RFC 3339, with an offset)."
    )
    objects: list[JSON] | None = strawberry.field(
        default=strawberry.UNSET,
        description="LIST_OF_OBJECTS: objects (keys follow the key rules at every level; see `object`).",
    )
    strings: list[str] | None = strawberry.field(default=strawberry.UNSET, description="LIST_OF_STRINGS.")
    numbers: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description='LIST_OF_NUMBERS: decimals as text, e.g. ["1", "2.5"].'
    )
    object: JSON | None = strawberry.field(
        default=strawberry.UNSET,
        description="OBJECT: nested JSON; keys follow the key rules at every level, at most 5 levels deep.",
    )
    null: bool | None = strawberry.field(default=strawberry.UNSET, description="Remove the value.")

    def to_domain(self) -> TypedValue:
        if given(self.string):
            return TypedValue(AttributeType.STRING, self.string)
        if given(self.number):
            return TypedValue(AttributeType.NUMBER, self.number)
        if given(self.boolean):
            return TypedValue(AttributeType.BOOLEAN, self.boolean)
        if given(self.date):
            return TypedValue(AttributeType.DATE, self.date)
        if given(self.datetime):
            return TypedValue(AttributeType.DATETIME, self.datetime)
        if given(self.objects):
            return TypedValue(AttributeType.LIST_OF_OBJECTS, list(self.objects))
        if given(self.strings):
            return TypedValue(AttributeType.LIST_OF_STRINGS, list(self.strings))
        if given(self.numbers):
            return TypedValue(AttributeType.LIST_OF_NUMBERS, list(self.numbers))
        if given(self.object):
            return TypedValue(AttributeType.OBJECT, self.object)
        return NULL


@strawberry.input(description="A custom attribute to set (or remove, with `value: {null: true}`).")
class CustomAttributeInput:
    key: str = strawberry.field(description="The attribute's key.")
    value: AttributeValue = strawberry.field(description="The typed value.")


@strawberry.input(description="A key and a typed value.")
class KeyValue:
    key: str = strawberry.field(description="The attribute's key.")
    value: AttributeValue = strawberry.field(description="The typed value.")
    path: list[str] | None = strawberry.field(
        default=None,
        description="With set only: the keys leading to a value inside an OBJECT attribute (never a dotted string).",
    )


@strawberry.input(description="A key and the path to a value inside its OBJECT.")
class KeyPath:
    key: str = strawberry.field(description="The attribute's key.")
    path: list[str] = strawberry.field(description="The keys leading to the value to remove.")


@strawberry.input(description="A key and a decimal amount.")
class KeyAmount:
    key: str = strawberry.field(description="The attribute's key.")
    amount: str = strawberry.field(description="Decimal as text; may be negative.")


@strawberry.input(one_of=True, description="One property operation on one key.")
class AttributeOp:
    set: KeyValue | None = strawberry.field(default=strawberry.UNSET, description="Set the value.")
    set_once: KeyValue | None = strawberry.field(default=strawberry.UNSET, description="Only where no value exists.")
    increment: KeyAmount | None = strawberry.field(default=strawberry.UNSET, description="Missing counts as 0.")
    append: KeyValue | None = strawberry.field(
        default=strawberry.UNSET,
        description="Append to a list: a string or number (or strings, numbers) to a scalar list, objects to "
        "LIST_OF_OBJECTS; a missing key becomes a list.",
    )
    remove: KeyValue | None = strawberry.field(
        default=strawberry.UNSET, description="Remove every equal item from a list (same values as append)."
    )
    unset: str | None = strawberry.field(default=strawberry.UNSET, description="Remove the key.")
    unset_path: KeyPath | None = strawberry.field(
        default=strawberry.UNSET, description="Remove a value inside an OBJECT attribute."
    )

    def to_domain(self) -> DomainAttributeOp:
        """The one operation this @oneOf input carries."""
        for kind, member in (
            ("set", self.set),
            ("setOnce", self.set_once),
            ("append", self.append),
            ("remove", self.remove),
        ):
            if isinstance(member, KeyValue):
                path = tuple(member.path) if member.path is not None else None
                return DomainAttributeOp(kind, member.key, member.value.to_domain(), path=path)  # type: ignore[arg-type]
        if isinstance(self.unset_path, KeyPath):
            return DomainAttributeOp("unsetPath", self.unset_path.key, path=tuple(self.unset_path.path))
        if isinstance(self.increment, KeyAmount):
            return DomainAttributeOp("increment", self.increment.key, amount=self.increment.amount)
        assert isinstance(self.unset, str)  # @oneOf guarantees one member
        return DomainAttributeOp("unset", self.unset)


@strawberry.input(description="A field of an OBJECT attribute or of the objects in a LIST_OF_OBJECTS attribute.")
class ObjectFieldInput:
    name: str = strawberry.field(description="Field name (same rules as attribute keys).")
    type: AttributeType = strawberry.field(description="A scalar type.")


@strawberry.input(description="Defines a custom attribute's type; once defined, the type cannot change.")
class AttributeDefinitionInput:
    name: str = strawberry.field(description="The attribute key.")
    type: AttributeType = strawberry.field(description="The type every value must have.")
    object_fields: list[ObjectFieldInput] | None = strawberry.field(
        default=None, description="OBJECT and LIST_OF_OBJECTS only: the fields of its objects (added to existing ones)."
    )
