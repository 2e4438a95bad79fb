"""Tells the HTTP layer what ran: the operation (for logs and metrics) and its error codes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from graphql import DocumentNode, FieldNode, GraphQLError, get_operation_ast
from strawberry.extensions import SchemaExtension
from strawberry.utils.operation import get_first_operation


def record_operation(
    request: object | None, document: DocumentNode | None, name: str | None, errors: Sequence[GraphQLError]
) -> None:
    """Leave on ``request.state``: the operation's name, a label (its type and root fields, or
    "invalid" when no operation could be chosen) and the codes of the errors it answered.
    ``name``: the one requested, else the first operation's (as Strawberry reports it)."""
    if request is None:
        return
    state = getattr(request, "state")  # noqa: B009 (a Request or a WebSocket)
    state.operation_name = name
    operation = get_operation_ast(document, name) if document is not None else None
    if operation is None:
        state.operation = "invalid"  # a parse or validation failure, or no such operation
    else:
        fields = {node.name.value for node in operation.selection_set.selections if isinstance(node, FieldNode)}
        state.operation = f"{operation.operation.value} {','.join(sorted(fields)) or '-'}"
    state.error_codes = [(error.extensions or {}).get("code", "GRAPHQL_VALIDATION_FAILED") for error in errors]


def reported_name(document: DocumentNode | None, requested: str | None) -> str | None:
    """The name Strawberry reports for an operation: the one requested, else the first one's."""
    if requested is not None or document is None:
        return requested
    first = get_first_operation(document)
    return first.name.value if first is not None and first.name is not None else None


class RecordOperation(SchemaExtension):
    """Listed before the masking extension, so it exits after it and sees the masked codes."""

    def on_operation(self) -> Iterator[None]:
        yield
        execution = self.execution_context
        errors = getattr(execution.result, "errors", None) or []
        record_operation(
            getattr(execution.context, "request", None),
            execution.graphql_document,
            execution.operation_name,
            errors,
        )
