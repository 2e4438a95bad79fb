"""The HTTP operation runner (app/graphql/execution.py) answers as Strawberry's pipeline with
the schema's extensions does, which subscriptions still use: the same documents, callers and
settings give the same data and the same errors on both paths."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from graphql import GraphQLFormattedError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from app.auth.principal import Principal, Scope
from app.graphql.execution import OperationRunner
from app.graphql.limits.rules import QueryLimits
from app.graphql.schema import build_schema

HTTP_OPERATIONS = frozenset({OperationType.QUERY, OperationType.MUTATION})
DOCUMENTS = {
    "a field": ("{ __typename }", None),
    "a named operation": ("query A { __typename } query B { __typename }", "B"),
    "several operations, none named": ("query A { __typename } query B { __typename }", None),
    "a parse error": ("{ users(first: 1) { nodes { 'x' } } }", None),
    "a parse error echoing a string": ('{ users(first: 1) { nodes { "xoxb-secret" } } }', None),
    "too many tokens": ("{ " + "__typename " * 2_001 + "}", None),
    "an unknown field": ("{ usrs { id } }", None),
    "too deep": (
        "{ users { nodes { installations { user { installations { user { installations { user { id } } } } } } } } }",
        None,
    ),
    "too many aliases": ("{ " + " ".join(f"a{index}: __typename" for index in range(16)) + " }", None),
    "too costly": ("{ a: users(first: 100) { nodes { tags } } b: users(first: 100) { nodes { tags } } }", None),
    "a variable of the wrong type": ("query($first: Int) { users(first: $first) { totalCount } }", None),
    "an unused variable": ("query($unused: Int) { __typename }", None),
    "introspection": ("{ __schema { queryType { name } } }", None),
    "a mutation outside the caller's scope": ('mutation { createApp(name: "x") { app { id } } }', None),
    "registration, for anonymous callers": ("{ __typename }", None),
}


@dataclass
class BareContext:
    """What both paths read from the context before any resolver touches the store."""

    principal: Principal
    request_id: str = "req-test-0001"
    request: Any = None


def answered(result: ExecutionResult) -> tuple[Any, list[GraphQLFormattedError]]:
    return result.data, [error.formatted for error in result.errors or ()]


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
@pytest.mark.parametrize("scope", [Scope.APP, Scope.ANONYMOUS])
@pytest.mark.parametrize("production", [False, True], ids=["development", "production"])
async def test_the_runner_answers_as_the_schema_extensions_do(name: str, scope: Scope, production: bool) -> None:
    limits = QueryLimits(max_cost=1_000, field_suggestions=not production)
    schema = build_schema(limits, introspection=not production)
    runner = OperationRunner(schema, limits, introspection=not production)
    query, operation_name = DOCUMENTS[name]
    context = BareContext(Principal(scope, app_id="app-1"))
    variables = {"first": "many"} if name == "a variable of the wrong type" else None
    ours = await runner.run(query, variables, context, operation_name, HTTP_OPERATIONS)
    strawberry = await schema.execute(
        query, variables, context, operation_name=operation_name, allowed_operation_types=HTTP_OPERATIONS
    )
    assert answered(ours) == answered(strawberry)


async def test_a_repeated_text_is_parsed_and_validated_once() -> None:
    limits = QueryLimits(cache_size=2)
    runner = OperationRunner(build_schema(limits), limits)
    first = runner.prepare("{ __typename }")
    assert runner.prepare("{ __typename }") is first
    runner.prepare("{ a: __typename }")
    runner.prepare("{ b: __typename }")  # the cache holds two: the first text is dropped
    assert runner.prepare("{ __typename }") is not first
