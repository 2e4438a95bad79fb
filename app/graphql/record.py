"""Tells the HTTP layer what ran: the operation (for logs and metrics) and its error codes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from graphql import DocumentNode, FieldNode, GraphQLError, GraphQLSchema, get_operation_ast
from strawberry.extensions import SchemaExtension
from strawberry.utils.operation import get_first_operation

# Root fields every operation type has (introspection), beside the schema's own.
_INTROSPECTION_FIELDS = frozenset({"__typename", "__schema", "__type"})


def record_operation(
    request: object | None,
    document: DocumentNode | None,
    name: str | None,
    errors: Sequence[GraphQLError],
    schema: GraphQLSchema,
) -> None:
    """Leave on ``request.state``: the operation's name, its type and root fields for the log
    line (or "invalid" when no operation could be chosen), its metric label (``metric_label``)
    and the codes of the errors it answered. ``name``: the one requested, else the first
    operation's (as Strawberry reports it)."""
    if request is None:
        return
    state = getattr(request, "state")  # noqa: B009 (a Request or a WebSocket)
    state.operation_name = name
    operation = get_operation_ast(document, name) if document is not None else None
    if operation is None:
        state.operation = state.metric_operation = "invalid"  # a parse or validation failure, or no such operation
    else:
        fields = sorted({node.name.value for node in operation.selection_set.selections if isinstance(node, FieldNode)})
        kind = operation.operation.value
        state.operation = f"{kind} {','.join(fields) or '-'}"
        root = getattr(schema, f"{kind}_type", None)  # query_type, mutation_type, subscription_type
        if root is None or not _INTROSPECTION_FIELDS.union(root.fields).issuperset(fields):
            # A name the schema does not have (the operation failed validation) is the caller's
            # choice: as a label, each would be a new series.
            state.metric_operation = "invalid"
        else:
            state.metric_operation = state.operation if len(fields) == 1 else metric_label(kind, fields)
    state.error_codes = [(error.extensions or {}).get("code", "GRAPHQL_VALIDATION_FAILED") for error in errors]


def metric_label(operation_type: str, root_fields: Sequence[str]) -> str:
    """The operation's label in metrics: its type and its root field, or ``(several)``. Any
    caller holding the public app id chooses which root fields one operation combines, and each
    set of them named a new series of the request counter and the latency histogram: one per
    subset of the schema's root fields, without bound in a process's memory and on each scrape.
    One root field each is bounded by the schema."""
    if len(root_fields) == 1:
        return f"{operation_type} {root_fields[0]}"
    return f"{operation_type} {'(several)' if root_fields else '-'}"


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
            execution.schema._schema,
        )
