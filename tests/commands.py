"""Counting store round trips: a PyMongo CommandListener the session's gateway is built with."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from typing import Any

from pymongo.monitoring import (
    CommandFailedEvent,
    CommandListener,
    CommandStartedEvent,
    CommandSucceededEvent,
)

# Driver housekeeping, not part of serving a request.
IGNORED = frozenset({"endSessions", "killCursors", "hello", "isMaster", "ismaster", "ping"})


class CommandLog(CommandListener):
    def __init__(self) -> None:
        self._recording: list[Counter[str]] = []
        self._capturing: list[list[dict[str, Any]]] = []

    def started(self, event: CommandStartedEvent) -> None:
        if event.command_name in IGNORED:
            return
        collection = event.command.get(event.command_name)
        name = f"{event.command_name} {collection}" if isinstance(collection, str) else event.command_name
        for counter in self._recording:
            counter[name] += 1
        for commands in self._capturing:
            commands.append(dict(event.command))

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass

    @contextlib.contextmanager
    def recording(self) -> Iterator[Counter[str]]:
        """Commands started inside the block, as {"find users": 1, ...}."""
        counter: Counter[str] = Counter()
        self._recording.append(counter)
        try:
            yield counter
        finally:
            self._recording.remove(counter)

    @contextlib.contextmanager
    def capturing(self) -> Iterator[list[dict[str, Any]]]:
        """The commands started inside the block, as sent (tests/store/test_query_plans.py
        explains them)."""
        commands: list[dict[str, Any]] = []
        self._capturing.append(commands)
        try:
            yield commands
        finally:
            self._capturing.remove(commands)
