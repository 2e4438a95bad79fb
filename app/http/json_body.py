"""Strict decoding of request JSON: what Strawberry would otherwise turn into a 500."""

from __future__ import annotations

import json


def decode_request_json(data: str | bytes) -> object:
    """A JSON object (or a list, which Strawberry refuses as a batch); anything else, invalid
    UTF-8 included, is a JSONDecodeError, i.e. HTTP 400 "Unable to parse request body as JSON"."""
    try:
        value = json.loads(data)
    except UnicodeDecodeError as error:
        raise json.JSONDecodeError("the body is not valid UTF-8", "", error.start) from None
    if not isinstance(value, dict | list):
        raise json.JSONDecodeError("expected a JSON object", "", 0)
    return value
