"""The SDL is the API's documentation: every type and field has a description (enum values excepted)."""

from __future__ import annotations

from graphql import GraphQLInputObjectType, GraphQLInterfaceType, GraphQLObjectType

from app.graphql.schema import schema

BUILT_IN = {"String", "Boolean", "Int", "Float", "ID", "Query", "Mutation", "Subscription"}


def test_every_type_and_field_is_described() -> None:
    missing: list[str] = []
    for name, graphql_type in schema._schema.type_map.items():
        if name.startswith("__") or name in BUILT_IN:
            continue
        if not graphql_type.description:
            missing.append(name)
        if isinstance(graphql_type, GraphQLObjectType | GraphQLInputObjectType | GraphQLInterfaceType):
            missing.extend(f"{name}.{field}" for field, spec in graphql_type.fields.items() if not spec.description)
    for root in (schema._schema.query_type, schema._schema.mutation_type):
        if root is not None:
            missing.extend(f"{root.name}.{field}" for field, spec in root.fields.items() if not spec.description)
    assert not missing, f"add a description to: {', '.join(missing)}"
