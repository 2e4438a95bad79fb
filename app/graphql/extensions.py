"""Error presentation: masking with request ids (a function, and the schema extension that
subscriptions run it through)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from graphql import GraphQLError
from pymongo.errors import PyMongoError
from strawberry.exceptions import StrawberryInputCoercionError
from strawberry.extensions import SchemaExtension

from app.auth.scopes import Forbidden
from app.graphql.errors import ClientError
from app.store.errors import is_unavailable

log = logging.getLogger("app.graphql")

MASKED_MESSAGE = "Unexpected error. Quote the request id when reporting it."
UNAVAILABLE_MESSAGE = "The store is unavailable; retry later."

# graphql-core echoes the offending input in coercion and validation messages. Inputs can
# carry secrets (Slack access tokens, webhook URLs, web push keys) that must not travel into
# responses, logs and error trackers, so those parts are cut; the path and reason stay.
_INVALID_VARIABLE = re.compile(r"^Variable '\$(?P<name>[_A-Za-z][_0-9A-Za-z]*)' got invalid value ", re.DOTALL)
_ECHOED_VALUE = re.compile(r"(cannot represent [^:;]*value|, found)[: ].*$", re.DOTALL)
# A syntax error names the token it stopped at: punctuation and <EOF> help the client, a
# string, number or name of the document may be a secret (an access token typed inline).
_SYNTAX_TOKEN = re.compile(r"(, found|Unexpected) (String|BlockString|Int|Float|Name) .*$", re.DOTALL)


def without_input_values(message: str) -> str:
    """The message with the client's input values left out."""
    if message.startswith("Syntax Error:"):
        return _SYNTAX_TOKEN.sub(lambda found: f"{found.group(1)} {found.group(2)} (value not shown).", message)
    match = _INVALID_VARIABLE.match(message)
    if match is not None:
        name = match.group("name")
        rest = message[match.end() :]
        at = rest.find(f" at '{name}")
        if at < 0:
            at = rest.rfind("; ")
        message = f"Variable '${name}' got an invalid value" + (rest[at:] if at >= 0 else ".")
    return _ECHOED_VALUE.sub(lambda found: f"{found.group(1).removesuffix(', found')} (value not shown).", message)


# Server-side time limits: MaxTimeMSExpired, ExceededTimeLimit.
_TIME_LIMIT_CODES = (50, 262)


def is_timeout(error: PyMongoError) -> bool:
    """A read or write that ran out of time (a large count, a slow store): retryable, not a bug."""
    return error.timeout or getattr(error, "code", None) in _TIME_LIMIT_CODES


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
        result.errors = [present(error, request_id) for error in errors]


def present(error: GraphQLError, request_id: str | None) -> GraphQLError:
    """The error as the client sees it; an unexpected one is logged and masked."""
    original = error.original_error
    if isinstance(error, StrawberryInputCoercionError) and not error.path:
        # Strawberry's own input checks (a @oneOf input with several members) in variables.
        message = without_input_values(error.message)
        return GraphQLError(message, nodes=error.nodes, extensions={"code": "BAD_USER_INPUT"})
    if original is None and not error.path:
        error.message = without_input_values(error.message)  # a parse or validation error
    if original is None or isinstance(original, ClientError):
        return error  # a parse/validation error or one raised for the client
    if not error.path and isinstance(original, GraphQLError | ValueError | TypeError):
        # Raised before execution (variable values that do not coerce, e.g. a Date
        # "2024-13-45"): the client's input, not a fault of ours.
        message = without_input_values(error.message)
        return GraphQLError(message, nodes=error.nodes, extensions={"code": "BAD_USER_INPUT"})
    if isinstance(original, Forbidden):
        return GraphQLError(original.message, nodes=error.nodes, path=error.path, extensions={"code": "FORBIDDEN"})
    if isinstance(original, PyMongoError) and (is_unavailable(original) or is_timeout(original)):
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
