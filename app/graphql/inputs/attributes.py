"""Typed attribute values and key/value inputs."""

from __future__ import annotations

from datetime import date, datetime

import strawberry
from strawberry.scalars import JSON

from app.domain.attributes import NULL, AttributeType, TypedValue
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
        default=strawberry.UNSET, description="LIST_OF_OBJECTS: objects whose fields are strings, numbers or booleans."
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
        return NULL


@strawberry.input(description="A custom attribute to set (or remove, with `value: {null: true}`).")
class CustomAttributeInput:
    key: str = strawberry.field(description="The attribute's key.")
    value: AttributeValue = strawberry.field(description="The typed value.")


@strawberry.input(description="A key and a typed value.")
class KeyValue:
    key: str = strawberry.field(description="The attribute's key.")
    value: AttributeValue = strawberry.field(description="The typed value.")


@strawberry.input(description="A key and a decimal amount.")
class KeyAmount:
    key: str = strawberry.field(description="The attribute's key.")
    amount: str = strawberry.field(description="Decimal as text; may be negative.")


@strawberry.input(one_of=True, description="One property operation on one key.")
class AttributeOp:
    set: KeyValue | None = strawberry.field(default=strawberry.UNSET, description="Set the value.")
    set_once: KeyValue | None = strawberry.field(default=strawberry.UNSET, description="Only where no value exists.")
    increment: KeyAmount | None = strawberry.field(default=strawberry.UNSET, description="Missing counts as 0.")
    append: KeyValue | None = strawberry.field(default=strawberry.UNSET, description="Append objects to a list.")
    remove: KeyValue | None = strawberry.field(default=strawberry.UNSET, description="Remove objects from a list.")
    unset: str | None = strawberry.field(default=strawberry.UNSET, description="Remove the key.")
