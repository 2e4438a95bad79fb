"""JSON log lines: one object per line with the request's ids; no credentials, no personal data."""

from __future__ import annotations

import json
import logging
import traceback
from datetime import UTC, datetime
from typing import Any

# Attributes every LogRecord has; anything else on a record came from ``extra=``, except
# uvicorn's ``color_message`` (its message again, with terminal colour codes).
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName", "color_message"}


class JsonFormatter(logging.Formatter):
    """Exceptions are logged as their type and stack only: exception messages can quote input
    (a duplicate key error names the email), and input may be personal data."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                line[key] = value
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            line["error"] = type(error).__name__
            line["stack"] = "".join(traceback.format_tb(error.__traceback__))
        return json.dumps(line, default=str, ensure_ascii=False)


def configure_logging(level: str, log_format: str) -> None:
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Strawberry logs every GraphQL error with its message (which can quote input); the
    # masking extension already logs the unexpected ones with their request id.
    logging.getLogger("strawberry.execution").setLevel(logging.CRITICAL)
    # Our request log replaces uvicorn's access log (which would log query strings).
    logging.getLogger("uvicorn.access").disabled = True
