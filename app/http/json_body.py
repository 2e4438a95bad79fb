"""Strict, bounded decoding of request JSON (POST bodies and GET's `variables`/`extensions`).

Everything a client sends is checked here, before GraphQL coerces a single variable: nesting
depth, the total number of values, the length of any list, string and number, lone UTF-16
surrogates (which no store or response encoder accepts) and non-finite numbers. A refusal is
HTTP 400 with the code LIMIT_EXCEEDED (a limit) or BAD_REQUEST (not acceptable JSON).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from cross_web import HTTPException

SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class JsonLimits:
    max_depth: int = 32
    max_nodes: int = 200_000
    max_list_length: int = 2_000
    max_string_length: int = 1_048_576
    max_number_length: int = 100


class JsonLimitExceeded(HTTPException):
    """A request JSON over one of the limits: 400, code LIMIT_EXCEEDED."""

    def __init__(self, reason: str) -> None:
        super().__init__(400, reason)


class UnacceptableJson(HTTPException):
    """JSON that parses but cannot be processed (lone surrogates, NaN, batch items that are
    not objects): 400, code BAD_REQUEST."""

    def __init__(self, reason: str) -> None:
        super().__init__(400, reason)


def decode_request_json(data: str | bytes, limits: JsonLimits | None = None) -> object:
    """A JSON object (or a list of objects, a batch); anything else, invalid UTF-8 included,
    is a JSONDecodeError, i.e. HTTP 400 "Unable to parse request body as JSON"."""
    limits = limits or JsonLimits()

    def number(text: str) -> int | float:
        if len(text) > limits.max_number_length:
            raise JsonLimitExceeded(f"a JSON number is longer than {limits.max_number_length} characters")
        value = float(text) if any(c in text for c in ".eE") else int(text)
        if isinstance(value, float) and not math.isfinite(value):
            raise UnacceptableJson("a JSON number is out of range")
        return value

    def constant(name: str) -> Any:
        raise UnacceptableJson(f"{name} is not a JSON number")

    try:
        value = json.loads(data, parse_int=number, parse_float=number, parse_constant=constant)
    except UnicodeDecodeError as error:
        raise json.JSONDecodeError("the body is not valid UTF-8", "", error.start) from None
    except RecursionError:
        raise JsonLimitExceeded(f"the JSON is nested deeper than {limits.max_depth} levels") from None
    if isinstance(value, list):
        if not all(isinstance(item, dict) for item in value):
            raise UnacceptableJson("each operation of a batch must be a JSON object")
    elif not isinstance(value, dict):
        raise json.JSONDecodeError("expected a JSON object", "", 0)
    check_limits(value, limits)
    return value


def check_limits(value: object, limits: JsonLimits) -> None:
    """Walk the decoded value once (iteratively: no recursion on hostile nesting)."""
    nodes = 0
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        nodes += 1
        if nodes > limits.max_nodes:
            raise JsonLimitExceeded(f"the JSON holds more than {limits.max_nodes} values")
        if isinstance(item, str):
            _check_string(item, limits)
        elif isinstance(item, dict | list):
            if depth > limits.max_depth:
                raise JsonLimitExceeded(f"the JSON is nested deeper than {limits.max_depth} levels")
            if isinstance(item, list):
                if len(item) > limits.max_list_length:
                    raise JsonLimitExceeded(f"a JSON list holds more than {limits.max_list_length} items")
                pending.extend((member, depth + 1) for member in item)
            else:
                for key, member in item.items():
                    _check_string(key, limits)
                    pending.append((member, depth + 1))


def _check_string(text: str, limits: JsonLimits) -> None:
    if len(text) > limits.max_string_length:
        raise JsonLimitExceeded(f"a JSON string is longer than {limits.max_string_length} characters")
    if SURROGATE.search(text):
        raise UnacceptableJson("a JSON string holds a lone UTF-16 surrogate (not valid Unicode)")
