"""The SDL is the API's documentation: every type, field, argument, enum value and input field
has a description (the checks of graphql-schema-linter's description rules, on the exported schema)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
)

from app.graphql.schema import schema

EXPORTED = Path(__file__).resolve().parents[2] / "schema.graphql"
SPECIFIED_SCALARS = {"String", "Boolean", "Int", "Float", "ID"}


def uncapitalized(sdl_schema: GraphQLSchema) -> list[str]:
    """Descriptions that start with a lower-case letter (graphql-schema-linter's descriptions-are-capitalized,
    applied to every description, not only to fields)."""
    found: list[str] = []
    for name, graphql_type in sdl_schema.type_map.items():
        if name.startswith("__"):
            continue
        members: dict[str, Any] = {name: graphql_type}
        if isinstance(graphql_type, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in graphql_type.fields.items():
                members[f"{name}.{field_name}"] = field
                members |= {f"{name}.{field_name}({arg}:)": spec for arg, spec in field.args.items()}
        elif isinstance(graphql_type, GraphQLInputObjectType):
            members |= {f"{name}.{field}": spec for field, spec in graphql_type.fields.items()}
        elif isinstance(graphql_type, GraphQLEnumType):
            members |= {f"{name}.{value}": spec for value, spec in graphql_type.values.items()}
        found.extend(path for path, member in members.items() if (member.description or "A")[0].islower())
    return found


def undescribed(sdl_schema: GraphQLSchema) -> list[str]:
    """Every schema member without a description, as ``Type``, ``Type.field``, ``Type.field(argument:)``
    or ``Enum.VALUE``."""
    missing: list[str] = []
    for name, graphql_type in sdl_schema.type_map.items():
        if name.startswith("__") or name in SPECIFIED_SCALARS:
            continue
        missing.extend(_undescribed_members(name, graphql_type))
    return missing


def _undescribed_members(name: str, graphql_type: GraphQLNamedType) -> list[str]:
    missing = [] if graphql_type.description else [name]
    if isinstance(graphql_type, GraphQLObjectType | GraphQLInterfaceType):
        for field_name, field in graphql_type.fields.items():
            if not field.description:
                missing.append(f"{name}.{field_name}")
            missing.extend(
                f"{name}.{field_name}({argument}:)" for argument, spec in field.args.items() if not spec.description
            )
    elif isinstance(graphql_type, GraphQLInputObjectType):
        missing.extend(f"{name}.{field}" for field, spec in graphql_type.fields.items() if not spec.description)
    elif isinstance(graphql_type, GraphQLEnumType):
        missing.extend(f"{name}.{value}" for value, spec in graphql_type.values.items() if not spec.description)
    return missing


def test_every_schema_member_of_the_exported_sdl_is_described() -> None:
    missing = undescribed(build_schema(EXPORTED.read_text()))
    assert not missing, f"add a description to: {', '.join(missing)}"


def test_every_description_starts_with_a_capital() -> None:
    lower = uncapitalized(build_schema(EXPORTED.read_text()))
    assert not lower, f"capitalize the description of: {', '.join(lower)}"


def test_every_schema_member_of_the_served_schema_is_described() -> None:
    missing = undescribed(schema._schema)
    assert not missing, f"add a description to: {', '.join(missing)}"


def test_the_check_finds_an_undescribed_argument_enum_value_and_root_type() -> None:
    sdl = """
    "described" enum Color { "described" RED BLUE }
    type Query { "described" paint(color: Color): Boolean }
    """
    assert undescribed(build_schema(sdl)) == ["Color.BLUE", "Query", "Query.paint(color:)"]
    assert uncapitalized(build_schema('type Query { "the answer" answer(x: Int): Int }')) == ["Query.answer"]
