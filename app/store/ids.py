"""Identifiers and sizes as the store makes and measures them."""

from __future__ import annotations

from typing import Any

import bson
from bson import ObjectId


def new_id() -> str:
    """ObjectId text: unique without coordination and ordered by creation time."""
    return str(ObjectId())


def encoded_size(document: dict[str, Any]) -> int:
    """Bytes the document takes in the store (BSON)."""
    return len(bson.encode(document))
