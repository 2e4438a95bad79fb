"""The cost rule on its own, against a schema with nested connections."""

from __future__ import annotations

from graphql import GraphQLError, build_schema, parse, validate

from app.graphql.limits.cost import cost_rule

SCHEMA = build_schema("""
type Query { users(first: Int = 20): UserConnection!  user: User }
type UserConnection { nodes: [User!]!  totalCount: Int! }
type User {
  id: ID!  history(first: Int = 20): EventConnection!  friends(first: Int): UserConnection!
}
type EventConnection { nodes: [Event!]! }
type Event { kind: String! }
""")


def cost_errors(query: str, max_cost: int = 10_000) -> list[GraphQLError]:
    return validate(SCHEMA, parse(query), [cost_rule(max_cost, max_page_size=100)])


def cost_of(query: str) -> int:
    errors = cost_errors(query, max_cost=0)
    if not errors:
        return 0
    assert errors[0].extensions is not None
    cost: int = errors[0].extensions["cost"]
    return cost


def test_nested_pages_multiply() -> None:
    assert cost_of("{ users(first: 100) { nodes { history(first: 20) { nodes { kind } } } } }") == 2_100
    assert cost_of("{ users(first: 10) { nodes { friends(first: 10) { nodes { id } } } } }") == 110


def test_defaults_variables_and_missing_defaults() -> None:
    assert cost_of("{ users { totalCount } }") == 20  # the schema default
    assert cost_of("query($n: Int = 5) { users(first: $n) { totalCount } }") == 5
    assert cost_of("query($n: Int) { users(first: $n) { totalCount } }") == 100  # worst case
    assert cost_of("{ user { friends { totalCount } } }") == 100  # no default: worst case


def test_fragments_count_once_per_spread_without_exponential_walks() -> None:
    fragments = ["fragment F0 on Query { users(first: 1) { totalCount } }"]
    fragments += [f"fragment F{level} on Query {{ ...F{level - 1} ...F{level - 1} }}" for level in range(1, 40)]
    assert cost_of("{ ...F39 } " + " ".join(fragments)) == 2**39
    inline = "{ ... on Query { users(first: 3) { nodes { ... on User { history(first: 2) { nodes { kind } } } } } } }"
    assert cost_of(inline) == 9


def test_introspection_is_free_and_the_ceiling_is_inclusive() -> None:
    assert cost_of("{ __schema { types { name } } }") == 0
    assert cost_errors("{ users(first: 100) { nodes { history(first: 99) { nodes { kind } } } } }") == []
    refused = cost_errors("{ users(first: 100) { nodes { history(first: 100) { nodes { kind } } } } }")
    assert [error.extensions for error in refused] == [{"code": "QUERY_TOO_COSTLY", "cost": 10_100, "maxCost": 10_000}]
