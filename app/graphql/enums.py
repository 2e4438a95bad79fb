"""Domain enums registered as GraphQL enums, each value with its description."""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

import strawberry
from strawberry.types.enum import StrawberryEnumDefinition


def described_enum[E: Enum](cls: type[E], *, name: str, description: str, values: Mapping[E, str]) -> type[E]:
    """Register the domain enum ``cls`` itself as the GraphQL enum ``name`` (annotations keep using
    the domain class) and give each value its description; the domain module stays free of Strawberry."""
    strawberry.enum(cls, name=name, description=description)
    definition: StrawberryEnumDefinition = getattr(cls, "__strawberry_definition__")  # noqa: B009
    for value in definition.values:
        value.description = values.get(cls(value.value))
    return cls
