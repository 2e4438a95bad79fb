"""Attribute definitions and the app's attribute settings."""

from __future__ import annotations

import strawberry

# The domain enum is the GraphQL enum (strawberry.enum registers the class itself).
import app.graphql.types.attributes  # noqa: F401
from app.domain.attributes import AttributeType
from app.domain.definitions import Definition
from app.graphql.errors import UserError


@strawberry.type(description="A field of an OBJECT attribute or of the objects in a LIST_OF_OBJECTS attribute.")
class ObjectField:
    name: str = strawberry.field(description="Field name.")
    type: AttributeType = strawberry.field(description="Its scalar type.")


@strawberry.type(description="A defined custom attribute: every value written under this key must have this type.")
class AttributeDefinition:
    name: str = strawberry.field(description="The attribute key.")
    type: AttributeType = strawberry.field(description="The type; it never changes once defined.")
    object_fields: list[ObjectField] = strawberry.field(
        description="OBJECT and LIST_OF_OBJECTS: the fields its objects may have (empty: any fields)."
    )

    @classmethod
    def of(cls, definition: Definition) -> AttributeDefinition:
        return cls(
            name=definition.name,
            type=definition.type,
            object_fields=[ObjectField(name=name, type=kind) for name, kind in definition.object_fields.items()],
        )


@strawberry.type(description="The definition as stored, or userErrors saying why nothing changed.")
class AttributeDefinitionPayload:
    definition: AttributeDefinition | None = strawberry.field(description="The definition after the change.")
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused.")


@strawberry.type(description="How an app treats custom attributes.")
class AttributeSettings:
    strict: bool = strawberry.field(
        description="When true, only defined attributes may be written (others are INVALID_KEY)."
    )


@strawberry.type(description="The settings after the change.")
class AttributeSettingsPayload:
    settings: AttributeSettings | None = strawberry.field(description="The app's attribute settings.")
    user_errors: list[UserError] = strawberry.field(description="Why the input was refused.")
