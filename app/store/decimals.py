"""The store's number type (BSON Decimal128) and its encoded size, so the domain's rules
can speak of decimals and byte limits without importing the driver."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import bson
from bson.decimal128 import Decimal128, create_decimal128_context

_CONTEXT = create_decimal128_context()

# The start value of an increment on an attribute that does not exist yet.
ZERO: Any = Decimal128("0")


def to_stored(number: Decimal) -> Any:
    """``number`` as the store keeps it (rounded to Decimal128's 34 digits)."""
    return Decimal128(_CONTEXT.create_decimal(number))


def stored_decimal(value: Any) -> Decimal | None:
    """The Decimal of a stored decimal; None for any other value."""
    return value.to_decimal() if isinstance(value, Decimal128) else None


def encoded_size(value: Any) -> int:
    """The bytes ``value`` takes in a stored document (as the field ``v``)."""
    return len(bson.encode({"v": value}))
