"""Expected failures: each carries a code, a message and the path of the input at fault."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID_INPUT = "INVALID_INPUT"
    INVALID_EMAIL = "INVALID_EMAIL"
    INVALID_PHONE = "INVALID_PHONE"
    INVALID_KEY = "INVALID_KEY"
    RESERVED_KEY = "RESERVED_KEY"
    TYPE_MISMATCH = "TYPE_MISMATCH"
    NOT_FOUND = "NOT_FOUND"
    USER_MERGE_INTERRUPTED = "USER_MERGE_INTERRUPTED"
    ALREADY_PERSONALIZED = "ALREADY_PERSONALIZED"
    CONFLICTING_IDENTITIES = "CONFLICTING_IDENTITIES"
    VERSION_CONFLICT = "VERSION_CONFLICT"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    FORBIDDEN = "FORBIDDEN"


Path = tuple[str, ...]


class DomainError(Exception):
    """One expected failure. ``field`` is the path into the operation's input."""

    def __init__(self, code: ErrorCode, message: str, field: Sequence[str | int] = ()) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field: Path = tuple(str(part) for part in field)

    def __repr__(self) -> str:
        return f"DomainError({self.code}, {self.message!r}, {list(self.field)})"


class DomainErrors(Exception):
    """Several expected failures found together; nothing was stored."""

    def __init__(self, errors: Iterable[DomainError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(error.message for error in self.errors))


class ErrorCollector:
    """Collects validation errors so a client sees all of them at once."""

    def __init__(self) -> None:
        self.errors: list[DomainError] = []

    def add(self, error: DomainError) -> None:
        self.errors.append(error)

    def raise_if_any(self) -> None:
        if self.errors:
            raise DomainErrors(self.errors)


def not_found(what: str, field: Sequence[str | int] = ()) -> DomainError:
    return DomainError(ErrorCode.NOT_FOUND, f"{what} was not found", field)
