"""Patch semantics: a field left out is unchanged, an explicit None removes the value."""

from __future__ import annotations

from enum import Enum
from typing import Final, Literal


class _Unset(Enum):
    UNSET = "UNSET"

    def __bool__(self) -> Literal[False]:
        return False


UNSET: Final = _Unset.UNSET
type Unset = Literal[_Unset.UNSET]
type Maybe[T] = T | Unset | None
