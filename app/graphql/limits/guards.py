"""Refusals decided from the document alone, before any variable is coerced.

- A document with several operations and no operationName is a request error (the
  GraphQL spec's GetOperation), instead of an execution that picks one.
- A caller with only an X-App-Id (an SDK before registration) may run saveInstallation and
  nothing else; that is checked on the operation's root fields before its variables are
  coerced, so a public caller cannot make the server coerce a huge input only to be refused.

The checks are functions, used by the HTTP operation runner (app/graphql/execution.py) and,
through ``RequestGuards``, by Strawberry's pipeline for subscriptions.
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql import DocumentNode, ExecutionResult, FieldNode, GraphQLError, OperationDefinitionNode
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from app.auth.principal import Scope

OPERATION_NAME_REQUIRED = "OPERATION_NAME_REQUIRED"
ANONYMOUS_ROOT_FIELDS = frozenset({"saveInstallation", "__typename", "__schema", "__type"})


def unnamed_among_several(document: DocumentNode, name: str | None) -> GraphQLError | None:
    """The request error for a document of several operations sent without operationName."""
    if name is not None:
        return None
    operations = [node for node in document.definitions if isinstance(node, OperationDefinitionNode)]
    if len(operations) <= 1:
        return None
    return GraphQLError(
        "The document holds several operations: name the one to run with operationName.",
        extensions={"code": OPERATION_NAME_REQUIRED},
    )


def anonymous_refusal(principal: object, document: DocumentNode | None, name: str | None) -> GraphQLError | None:
    """FORBIDDEN for an X-App-Id caller whose operation asks for more than registering."""
    if getattr(principal, "scope", None) is not Scope.ANONYMOUS:
        return None
    operation = chosen_operation(document, name)
    if operation is None or only_anonymous_fields(operation):
        return None
    return GraphQLError(
        "With only X-App-Id, the one operation allowed is saveInstallation.",
        extensions={"code": "FORBIDDEN"},
    )


class RequestGuards(SchemaExtension):
    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        error = unnamed_among_several(document, requested_name(context)) if document is not None else None
        if error is not None:
            # A new list: the validation cache keeps the one it set.
            context.pre_execution_errors = [*(context.pre_execution_errors or []), error]
        yield

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if context.result is None:
            principal = getattr(context.context, "principal", None)
            refusal = anonymous_refusal(principal, context.graphql_document, requested_name(context))
            if refusal is not None:
                context.result = ExecutionResult(data=None, errors=[refusal])
        yield


def requested_name(context: ExecutionContext) -> str | None:
    # The name the client sent: Strawberry's `operation_name` falls back to the first
    # operation's, which is what a request error must not do.
    name = getattr(context, "_provided_operation_name", None)
    return name if isinstance(name, str) else None


def chosen_operation(document: object, name: str | None) -> OperationDefinitionNode | None:
    """The operation that runs: the one named, or the only one."""
    definitions = getattr(document, "definitions", ())
    operations = [node for node in definitions if isinstance(node, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((node for node in operations if node.name and node.name.value == name), None)


def only_anonymous_fields(operation: OperationDefinitionNode) -> bool:
    """Root fields only, as written: fragments at the root are refused rather than expanded."""
    return all(
        isinstance(selection, FieldNode) and selection.name.value in ANONYMOUS_ROOT_FIELDS
        for selection in operation.selection_set.selections
    )
