"""Tells the HTTP layer what ran: the operation (for logs and metrics) and its error codes."""

from __future__ import annotations

from collections.abc import Iterator

from graphql import FieldNode, get_operation_ast
from strawberry.extensions import SchemaExtension


class RecordOperation(SchemaExtension):
    """Listed before the masking extension, so it exits after it and sees the masked codes."""

    def on_operation(self) -> Iterator[None]:
        yield
        execution = self.execution_context
        request = getattr(execution.context, "request", None)
        if request is None:
            return
        state = request.state
        state.operation_name = execution.operation_name
        try:
            operation = execution.operation_type.value
            fields = [selection.name.value for selection in self._selections() if isinstance(selection, FieldNode)]
            state.operation = f"{operation} {','.join(sorted(set(fields))) or '-'}"
        except RuntimeError:  # no valid operation: a parse or validation failure
            state.operation = "invalid"
        errors = getattr(execution.result, "errors", None) or []
        state.error_codes = [(error.extensions or {}).get("code", "GRAPHQL_VALIDATION_FAILED") for error in errors]

    def _selections(self) -> list[object]:
        document = self.execution_context.graphql_document
        if document is None:
            raise RuntimeError("no document")
        node = get_operation_ast(document, self.execution_context.operation_name)
        if node is None:
            raise RuntimeError("no operation")
        return list(node.selection_set.selections)
