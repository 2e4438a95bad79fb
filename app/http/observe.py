"""The outermost layer: a request id for every request, one JSON log line, metrics, and a JSON
500 (never a stack trace) for anything that escaped the layers below."""

from __future__ import annotations

import logging
import re
import secrets
import time

from starlette.datastructures import MutableHeaders
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.http.errors import STATUS_CODES, send_error
from app.observability.metrics import Metrics

log = logging.getLogger("app.http")

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
MAX_OPERATION_NAME = 100


def request_id_from(scope: Scope) -> str:
    """The caller's X-Request-Id when it is well-formed, else a new one (32 random hex digits)."""
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            given = value.decode("latin-1")
            return given if REQUEST_ID.match(given) else secrets.token_hex(16)
    return secrets.token_hex(16)


class Observe:
    def __init__(self, app: ASGIApp, metrics: Metrics | None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        request_id = state["request_id"] = request_id_from(scope)
        started_at = time.perf_counter()
        status = 500
        response_started = False

        async def observed_send(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                MutableHeaders(scope=message)["x-request-id"] = request_id
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        except ClientDisconnect:
            # The client went away mid-request: nothing to answer, nothing of ours failed.
            log.info("client disconnected before the request was read", extra={"request_id": request_id})
            status = 499  # nginx's "client closed request", for the log line and metrics
        except Exception:
            log.exception("unhandled error", extra={"request_id": request_id})
            if response_started:
                raise
            await send_error(
                observed_send,
                500,
                "Unexpected error. Quote the request id when reporting it.",
                request_id=request_id,
            )
        finally:
            self._record(scope, state, status, time.perf_counter() - started_at)

    def _record(self, scope: Scope, state: dict[str, object], status: int, seconds: float) -> None:
        # The metric's label is the operation type and its one root field, or "(several)"
        # (app/graphql/record.py), never the client-chosen operation name nor the set of root
        # fields, so the metric's cardinality stays bounded by the schema.
        operation = str(state.get("operation") or _route_label(scope))
        metric_operation = str(state.get("metric_operation") or operation)
        codes = [str(code) for code in state.get("error_codes", ()) or ()]  # type: ignore[attr-defined]
        if status >= 400 and not codes:
            codes = [STATUS_CODES.get(status, "ERROR")]
        limited_by = state.get("limited_by")  # set by a rate limit's refusal (app/http/rate_limit.py)
        limit = limited_by if isinstance(limited_by, str) else None
        if log.isEnabledFor(logging.INFO):  # the line's fields are not built when it is not written
            _log_line(scope, state, status, seconds, operation, codes, limit)
        if self.metrics is not None:
            self.metrics.observe_request(metric_operation, status, seconds, codes, limit)


def _log_line(
    scope: Scope,
    state: dict[str, object],
    status: int,
    seconds: float,
    operation: str,
    codes: list[str],
    limited_by: str | None,
) -> None:
    principal = state.get("principal")
    log.info(
        "request",
        extra={
            "request_id": state.get("request_id"),
            "method": scope["method"],
            "path": scope["path"],  # never the query string: GET variables can be personal data
            "status": status,
            "duration_ms": round(seconds * 1000, 2),
            "app_id": getattr(principal, "app_id", None),
            "scope": str(getattr(principal, "scope", "")) or None,
            "operation": operation,
            "operation_name": _short(state.get("operation_name")),
            "error_codes": codes or None,
            "limited_by": limited_by,
        },
    )


def _route_label(scope: Scope) -> str:
    path: str = scope["path"]
    return path if path in ("/graphql", "/healthz", "/readyz", "/metrics") else "other"


def _short(name: object) -> str | None:
    return str(name)[:MAX_OPERATION_NAME] if name else None
