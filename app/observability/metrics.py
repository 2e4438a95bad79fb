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
        self.store_seconds = Histogram(
            "profile_gateway_store_command_seconds",
            "Store command latency by command.",
            ["command", "outcome"],
            buckets=_LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.store_listener = StoreCommandListener(self.store_seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class StoreCommandListener(CommandListener):
    """Times every command the driver sends; the driver reports the duration itself."""

    def __init__(self, histogram: Histogram) -> None:
        self.histogram = histogram

    def started(self, event: CommandStartedEvent) -> None:
        pass

    def succeeded(self, event: CommandSucceededEvent) -> None:
        self._observe(event.command_name, "ok", event.duration_micros)

    def failed(self, event: CommandFailedEvent) -> None:
        self._observe(event.command_name, "failed", event.duration_micros)

    def _observe(self, command: str, outcome: str, micros: int) -> None:
        # Command names come from the driver, a small fixed set: safe as a label.
        self.histogram.labels(command.lower(), outcome).observe(micros / 1_000_000)
