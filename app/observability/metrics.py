"""Prometheus metrics: one registry per application instance (tests build several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from pymongo.monitoring import (
    CommandFailedEvent,
    CommandListener,
    CommandStartedEvent,
    CommandSucceededEvent,
)

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "profile_gateway_requests",
            "HTTP requests by operation and status.",
            ["operation", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "profile_gateway_request_seconds",
            "Request latency by operation.",
            ["operation"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "profile_gateway_errors",
            "Errors by code (GraphQL extensions.code or HTTP refusal).",
            ["code"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "profile_gateway_rate_limited",
            "Requests refused by a limit, by the limit that refused them: HTTP 429s (user, backend, end-users, "
            "registrations, address, network, auth-failures), subscribes (user, backend, end-users) and websocket "
            "connections (connections-app, connections-user).",
            ["limit"],
            registry=self.registry,
        )
        self.leads_erased = Counter(
            "profile_gateway_anonymous_leads_erased",
            "Idle anonymous leads erased by housekeeping (ANONYMOUS_LEAD_RETENTION_DAYS), by this process.",
            registry=self.registry,
        )
        self.store_seconds = Histogram(
            "profile_gateway_store_command_seconds",
            "Store command latency by command.",
            ["command", "outcome"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.store_listener = StoreCommandListener(self.store_seconds)
        # Labelled children, looked up once per label set: prometheus_client's ``labels()``
        # validates and locks on every call, a measurable share of a cached read's CPU.
        self._request_children: dict[tuple[str, int], tuple[Counter, Histogram]] = {}
        self._error_children: dict[str, Counter] = {}

    def observe_request(
        self, operation: str, status: int, seconds: float, error_codes: list[str], limited_by: str | None = None
    ) -> None:
        """One answered request: its count, latency, error codes and the limit that refused it, if
        one did (operation and limit: bounded labels)."""
        children = self._request_children.get((operation, status))
        if children is None:
            children = (self.requests.labels(operation, str(status)), self.request_seconds.labels(operation))
            self._request_children[(operation, status)] = children
        children[0].inc()
        children[1].observe(seconds)
        for code in error_codes:
            counter = self._error_children.get(code)
            if counter is None:
                counter = self._error_children[code] = self.errors.labels(code)
            counter.inc()
        if limited_by is not None:
            self.refused(limited_by)

    def refused(self, limit: str) -> None:
        """One request, subscribe or connection refused by ``limit`` (a refusal: not the hot path)."""
        self.rate_limited.labels(limit).inc()

    def erased_leads(self, count: int) -> None:
        """``count`` idle anonymous leads erased by this process's housekeeping."""
        self.leads_erased.inc(count)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class StoreCommandListener(CommandListener):
    """Times every command the driver sends; the driver reports the duration itself."""

    def __init__(self, histogram: Histogram) -> None:
        self.histogram = histogram
        self._children: dict[tuple[str, str], Histogram] = {}  # (command, outcome) → its histogram

    def started(self, event: CommandStartedEvent) -> None:
        pass

    def succeeded(self, event: CommandSucceededEvent) -> None:
        self._observe(event.command_name, "ok", event.duration_micros)

    def failed(self, event: CommandFailedEvent) -> None:
        self._observe(event.command_name, "failed", event.duration_micros)

    def _observe(self, command: str, outcome: str, micros: int) -> None:
        # Command names come from the driver, a small fixed set: safe as a label.
        child = self._children.get((command, outcome))
        if child is None:
            child = self._children[(command, outcome)] = self.histogram.labels(command.lower(), outcome)
        child.observe(micros / 1_000_000)
