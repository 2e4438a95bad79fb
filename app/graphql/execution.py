"""Runs one query or mutation sent over HTTP.

The steps are those of Strawberry's ``Schema.execute`` with this schema's extensions: the
token limit, the parse and validation caches, the limit rules, the request guards, the error
masking and the operation record. Here they are plain calls around graphql-core's
``execute``, because Strawberry's per-request extension hooks cost more CPU than
graphql-core's execution of a simple read (bench/README.md, "Gateway CPU per cached simple
read"). Subscriptions still run through Strawberry with those extensions; both paths call the
same functions (limits/guards.py, extensions.py, record.py), and tests/graphql/
test_execution.py holds them to the same answers.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    GraphQLError,
    NoSchemaIntrospectionCustomRule,
    execute,
    parse,
    specified_rules,
    validate,
)
from strawberry.exceptions import MissingQueryError
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType
from strawberry.utils.await_maybe import await_maybe
from strawberry.utils.operation import get_operation_type

from app.graphql.extensions import present
from app.graphql.limits.guards import anonymous_refusal, unnamed_among_several
from app.graphql.limits.rules import QueryLimits, hide_suggestions
from app.graphql.record import record_operation, reported_name
from app.graphql.schema import Schema

# Subscriptions run over the websocket only: over HTTP they would have no stream to answer on.
HTTP_OPERATIONS = {
    "GET": frozenset({OperationType.QUERY}),
    "POST": frozenset({OperationType.QUERY, OperationType.MUTATION}),
}


@dataclass(frozen=True, slots=True)
class PreparedDocument:
    """A parsed document and its validation errors; kept per query text."""

    document: DocumentNode
    errors: tuple[GraphQLError, ...]


class OperationRunner:
    def __init__(self, schema: Schema, limits: QueryLimits, *, introspection: bool = True) -> None:
        self.schema = schema
        self.limits = limits
        self.rules: tuple[type[ASTValidationRule], ...] = (
            *specified_rules,
            *limits.validation_rules(),
            *(() if introspection else (NoSchemaIntrospectionCustomRule,)),
            MaybeNullValidationRule,
            OneOfInputValidationRule,
        )
        # Keyed by the text; a parse error raises and is not kept.
        self.prepare = lru_cache(maxsize=limits.cache_size)(self._prepare)

    async def run(
        self,
        query: str | None,
        variables: dict[str, Any] | None,
        context: Any,
        operation_name: str | None,
        allowed: Collection[OperationType],
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """The operation's result, its errors as clients see them. Raises Strawberry's
        MissingQueryError, CannotGetOperationTypeError and InvalidOperationTypeError, which
        the HTTP view answers as request errors (4xx), as Strawberry's own view does."""
        if not query:
            raise MissingQueryError
        try:
            prepared = self.prepare(query)
        except GraphQLError as error:
            return self._finish(context, None, operation_name, None, [error])
        document = prepared.document
        self._check_operation_type(document, operation_name, allowed)
        errors = list(prepared.errors)
        unnamed = unnamed_among_several(document, operation_name)
        if unnamed is not None:
            errors.append(unnamed)
        if not errors:
            refusal = anonymous_refusal(getattr(context, "principal", None), document, operation_name)
            if refusal is not None:
                errors.append(refusal)
        if errors:
            return self._finish(context, document, operation_name, None, errors)
        try:
            result = await await_maybe(
                execute(
                    self.schema._schema,
                    document,
                    variable_values=variables,
                    operation_name=operation_name,
                    context_value=context,
                    executor_class=self.schema.execution_context_class,
                    is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]  # Strawberry passes it too
                    operation_extensions=operation_extensions,
                )
            )
        except Exception as error:  # graphql-core returns errors; this is a fault: masked and logged below
            failure = error if isinstance(error, GraphQLError) else GraphQLError(str(error), original_error=error)
            return self._finish(context, document, operation_name, None, [failure])
        return self._finish(context, document, operation_name, result.data, list(result.errors or ()))

    def _prepare(self, query: str) -> PreparedDocument:
        """Parsed within the token limit and validated (``prepare``: once per distinct text,
        up to the cache size)."""
        document = parse(query, max_tokens=self.limits.max_tokens)
        return PreparedDocument(document, tuple(validate(self.schema._schema, document, self.rules)))

    @staticmethod
    def _check_operation_type(
        document: DocumentNode, operation_name: str | None, allowed: Collection[OperationType]
    ) -> None:
        try:
            operation_type = get_operation_type(document, operation_name)  # the named one, or the first
        except RuntimeError:
            raise CannotGetOperationTypeError(operation_name) from None
        if operation_type not in allowed:
            raise InvalidOperationTypeError(operation_type)

    def _finish(
        self,
        context: Any,
        document: DocumentNode | None,
        operation_name: str | None,
        data: dict[str, Any] | None,
        errors: list[GraphQLError],
    ) -> ExecutionResult:
        if errors and not self.limits.field_suggestions:
            hide_suggestions(errors)  # validation's (cached, so cut once) and execution's alike
        request_id = getattr(context, "request_id", None)
        shown = [present(error, request_id) for error in errors]
        request = getattr(context, "request", None)
        record_operation(request, document, reported_name(document, operation_name), shown, self.schema._schema)
        return ExecutionResult(data=data, errors=shown or None)
