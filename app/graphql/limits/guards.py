"""Refusals decided from the document alone, before any variable is coerced.

- A document with several operations and no operationName is a request error (the
  GraphQL spec's GetOperation), instead of an execution that picks one.
- A caller with only an X-App-Id (an SDK before registration) may run saveInstallation and
  nothing else; that is checked on the operation's root fields before its variables are
  coerced, so a public caller cannot make the server coerce a huge input only to be refused.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import ExecutionResult, FieldNode, GraphQLError, OperationDefinitionNode
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from app.auth.principal import Scope

OPERATION_NAME_REQUIRED = "OPERATION_NAME_REQUIRED"
ANONYMOUS_ROOT_FIELDS = frozenset({"saveInstallation", "__typename", "__schema", "__type"})


class RequestGuards(SchemaExtension):
    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and _requested_name(context) is None:
            operations = [node for node in document.definitions if isinstance(node, OperationDefinitionNode)]
            if len(operations) > 1:
                error = GraphQLError(
                    "The document holds several operations: name the one to run with operationName.",
                    extensions={"code": OPERATION_NAME_REQUIRED},
                )
                # A new list: the validation cache keeps the one it set.
                context.pre_execution_errors = [*(context.pre_execution_errors or []), error]
        yield

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        principal = getattr(context.context, "principal", None)
        if getattr(principal, "scope", None) is Scope.ANONYMOUS and context.result is None:
            operation = _chosen_operation(context.graphql_document, _requested_name(context))
            if operation is not None and not _only_anonymous_fields(operation):
                context.result = ExecutionResult(
                    data=None,
                    errors=[
                        GraphQLError(
                            "With only X-App-Id, the one operation allowed is saveInstallation.",
                            extensions={"code": "FORBIDDEN"},
                        )
                    ],
                )
        yield


def _requested_name(context: ExecutionContext) -> str | None:
    # The name the client sent: Strawberry's `operation_name` falls back to the first
    # operation's, which is what a request error must not do.
    name = getattr(context, "_provided_operation_name", None)
    return name if isinstance(name, str) else None


def _chosen_operation(document: object, name: str | None) -> OperationDefinitionNode | None:
    definitions = getattr(document, "definitions", ())
    operations = [node for node in definitions if isinstance(node, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((node for node in operations if node.name and node.name.value == name), None)


def _only_anonymous_fields(operation: OperationDefinitionNode) -> bool:
    """Root fields only, as written: fragments at the root are refused rather than expanded."""
    return all(
        isinstance(selection, FieldNode) and selection.name.value in ANONYMOUS_ROOT_FIELDS
        for selection in operation.selection_set.selections
    )
