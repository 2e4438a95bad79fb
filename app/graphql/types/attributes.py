"""Custom attributes as clients see them."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON

from app.domain import attributes
from app.domain.attributes import AttributeType as DomainAttributeType
from app.graphql.enums import described_enum

described_enum(
    DomainAttributeType,
    name="AttributeType",
    description="The type of a custom attribute.",
    values={
        DomainAttributeType.STRING: "Text.",
        DomainAttributeType.NUMBER: 'A decimal number, exchanged as text (e.g. "149.99") so no precision is lost.',
        DomainAttributeType.BOOLEAN: "True or false.",
        DomainAttributeType.DATE: "A calendar date, ISO 8601 (2024-05-31).",
        DomainAttributeType.DATETIME: "An instant, ISO 8601 with a time zone (2024-05-31T09:30:00Z).",
        DomainAttributeType.LIST_OF_STRINGS: "A list of strings.",
        DomainAttributeType.LIST_OF_NUMBERS: "A list of decimal numbers, exchanged as text.",
        DomainAttributeType.OBJECT: "A nested object whose keys follow the key rules at every level.",
        DomainAttributeType.LIST_OF_OBJECTS: "A list of objects whose fields are declared with defineAttribute.",
    },
)
AttributeType = DomainAttributeType  # registered above; an alias stays usable as a type


@strawberry.type(description='A typed custom attribute. NUMBER values are decimal text (e.g. "149.99").')
class CustomAttribute:
    key: str = strawberry.field(description="The attribute's key.")
    type: AttributeType = strawberry.field(description="The type of the value.")
    value: JSON | None = strawberry.field(
        description="NUMBER: decimal text; DATE: YYYY-MM-DD; DATETIME: RFC 3339; LIST_OF_STRINGS: strings; "
        "LIST_OF_NUMBERS: decimal texts; OBJECT: an object; LIST_OF_OBJECTS: a list of objects. Inside objects, "
        "numbers are JSON numbers and dates YYYY-MM-DD."
    )


def custom_attributes_of(document: dict[str, Any]) -> list[CustomAttribute]:
    values: dict[str, Any] = document.get("attrs", {})
    meta: dict[str, Any] = document.get("attrMeta", {})
    return [custom_attribute(key, meta[key]["type"], values[key]) for key in sorted(values) if key in meta]


def custom_attribute(key: str, type_name: str, value: Any) -> CustomAttribute:
    kind = DomainAttributeType(type_name)
    return CustomAttribute(key=key, type=kind, value=attributes.from_bson(kind, value))


def one_custom_attribute(document: dict[str, Any], key: str) -> CustomAttribute | None:
    values: dict[str, Any] = document.get("attrs", {})
    meta: dict[str, Any] = document.get("attrMeta", {})
    if key not in values or key not in meta:
        return None
    return custom_attribute(key, meta[key]["type"], values[key])
