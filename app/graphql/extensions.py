"""Schema extensions: error masking with request ids."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from graphql import GraphQLError
from pymongo.errors import PyMongoError
from strawberry.extensions import SchemaExtension

from app.auth.scopes import Forbidden
from app.graphql.errors import ClientError
from app.store.errors import is_unavailable

log = logging.getLogger("app.graphql")

MASKED_MESSAGE = "Unexpected error. Quote the request id when reporting it."
UNAVAILABLE_MESSAGE = "The store is unavailable; retry later."


class MaskUnexpectedErrors(SchemaExtension):
    """Clients see their own mistakes (validation, FORBIDDEN, limits) and nothing else:
    unexpected errors are logged with the request id and replaced by a generic message."""

    def on_operation(self) -> Iterator[None]:
        yield
        result = self.execution_context.result
        errors = getattr(result, "errors", None)
        if result is None or not errors:
            return
        request_id = getattr(self.execution_context.context, "request_id", None)
        result.errors = [self._present(error, request_id) for error in errors]

    def _present(self, error: GraphQLError, request_id: str | None) -> GraphQLError:
        original = error.original_error
        if original is None or isinstance(original, ClientError):
            return error  # a parse/validation error or one raised for the client
        if not error.path and isinstance(original, GraphQLError | ValueError | TypeError):
            # Raised before execution (variable values that do not coerce, e.g. a Date
            # "2024-13-45"): the client's input, not a fault of ours.
            return GraphQLError(error.message, nodes=error.nodes, extensions={"code": "BAD_USER_INPUT"})
        if isinstance(original, Forbidden):
            return GraphQLError(original.message, nodes=error.nodes, path=error.path, extensions={"code": "FORBIDDEN"})
        if isinstance(original, PyMongoError) and is_unavailable(original):
            # An outage is not a bug: say so (retryable) instead of masking it as one.
            log.warning(
                "store unavailable",
                extra={"request_id": request_id, "error": type(original).__name__},
            )
            return GraphQLError(
                UNAVAILABLE_MESSAGE,
                nodes=error.nodes,
                path=error.path,
                extensions={"code": "UNAVAILABLE", "requestId": request_id},
            )
        log.error(
            "unexpected error in %s",
            ".".join(map(str, error.path or [])) or "operation",
            exc_info=original,
            extra={"request_id": request_id},
        )
        return GraphQLError(
            MASKED_MESSAGE,
            nodes=error.nodes,
            path=error.path,
            extensions={"code": "INTERNAL_SERVER_ERROR", "requestId": request_id},
        )
