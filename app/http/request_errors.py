"""Telling a request error (the operation never ran) from a result with field errors, and the
HTTP status a request error answers with under application/graphql-response+json."""

from __future__ import annotations

from collections.abc import Mapping

# A request error whose every error carries one of these codes keeps that code's meaning.
STATUS_OF_CODE = {
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "RATE_LIMITED": 429,
    "INTERNAL_SERVER_ERROR": 500,
    "UNAVAILABLE": 503,
}


def request_error_status(response: Mapping[str, object]) -> int | None:
    """The status of a response that is a request error, None for an execution result.

    Execution sets `data` (possibly null) and every field error has a `path`; parse,
    validation, variable coercion and persisted-query errors come before it and have none."""
    errors = response.get("errors")
    if response.get("data") is not None or not isinstance(errors, list) or not errors:
        return None
    if any(isinstance(error, Mapping) and error.get("path") for error in errors):
        return None
    codes = {(error.get("extensions") or {}).get("code") if isinstance(error, Mapping) else None for error in errors}
    if len(codes) == 1 and (code := next(iter(codes))) in STATUS_OF_CODE:
        return STATUS_OF_CODE[str(code)]
    return 400
