"""Validation and normalisation of the identifiers a user is found by: the one place their
rules live, for every write path (upsert, update, personalize, bulk, import, channels).

- externalUserId: any casing of "null" (what SDKs send for a missing id) is null; every
  other non-empty string is an id, "0" and "anonymous" included. No control characters.
- phones: E.164, with or without the leading "+" when the digits start with a valid
  country code ("38516419710" is stored as "+38516419710").
- emails: RFC 5322 syntax, kept in lower case.
- tags: short strings without control characters.
- date-times (signedUpAt and every DATETIME input): RFC 3339 text, or epoch milliseconds
  (what JavaScript's ``Date.now()`` gives).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from app.domain import limits
from app.domain.confusables import confusable_reason
from app.domain.errors import DomainError, ErrorCode

# Digits only (spaces, dashes and dots allowed between them): an E.164 number without its "+".
_BARE_DIGITS = re.compile(r"[0-9][0-9 .\-]{5,20}")


def is_null_text(value: str) -> bool:
    """What SDKs and integrations send for a missing id: "null" in any casing."""
    return value.strip().lower() == "null"


def has_control_characters(value: str) -> bool:
    """NUL, newlines, tabs and the other C0/C1 control characters (Unicode category Cc)."""
    return any(unicodedata.category(character) == "Cc" for character in value)


def refuse_control_characters(value: str, field: Sequence[str | int], what: str) -> str:
    if has_control_characters(value):
        raise DomainError(ErrorCode.INVALID_INPUT, f"{what} may not contain control characters", field)
    return value


def normalize_email(value: str, field: Sequence[str | int] = ()) -> str:
    """RFC 5322 syntax check; the address is kept in lower case so look-ups ignore case."""
    if len(value) > 320:
        raise DomainError(ErrorCode.INVALID_EMAIL, "an email address has at most 320 characters", field)
    if (reason := confusable_reason(value)) is not None:
        raise DomainError(ErrorCode.INVALID_EMAIL, f"not accepted as an email address: {reason}", field)
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as error:
        raise DomainError(ErrorCode.INVALID_EMAIL, f"{value!r} is not a valid email address: {error}", field) from None
    return result.normalized.lower()


def normalize_phone(value: str, field: Sequence[str | int] = ()) -> str:
    """A phone number in E.164; the ``+`` may be left out when the digits start with a valid
    country code. Stored with the ``+``."""
    text = value.strip()
    if _BARE_DIGITS.fullmatch(text):
        text = "+" + text
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise DomainError(
            ErrorCode.INVALID_PHONE,
            f"{value!r} is not a phone number in E.164 form (e.g. +4915112345678)",
            field,
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise DomainError(ErrorCode.INVALID_PHONE, f"{value!r} is not a valid phone number", field)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_external_user_id(value: str | None, field: Sequence[str | int] = ()) -> str | None:
    """None for JSON null and "null" in any casing; otherwise the trimmed id."""
    if value is None or is_null_text(value):
        return None
    stripped = value.strip()
    if not stripped:
        raise DomainError(ErrorCode.INVALID_INPUT, "externalUserId must not be empty", field)
    refuse_control_characters(value, field, "externalUserId")  # before trimming: "a\n" is refused
    if len(stripped) > limits.MAX_EXTERNAL_USER_ID_LENGTH:
        raise DomainError(
            ErrorCode.LIMIT_EXCEEDED,
            f"externalUserId has at most {limits.MAX_EXTERNAL_USER_ID_LENGTH} characters",
            field,
        )
    return stripped


Normalizer = Callable[[str, Sequence[str | int]], str]


def normalize_list(
    values: Sequence[str],
    normalize: Normalizer,
    field: Sequence[str | int],
    maximum: int,
    what: str,
) -> list[str]:
    """Normalise each item, drop duplicates (keeping order), enforce the per-user maximum."""
    # Refused before any work: a list far over the limit is an attack, not a typo
    # (20,000 tags took seconds to normalise).
    if len(values) > maximum * 10:
        raise DomainError(ErrorCode.LIMIT_EXCEEDED, f"a user has at most {maximum} {what}", field)
    result: dict[str, None] = {}  # insertion-ordered set: linear, not quadratic
    for index, value in enumerate(values):
        result.setdefault(normalize(value, (*field, index)))
    if len(result) > maximum:
        raise DomainError(ErrorCode.LIMIT_EXCEEDED, f"a user has at most {maximum} {what}", field)
    return list(result)


def normalize_emails(values: Sequence[str], field: Sequence[str | int]) -> list[str]:
    return normalize_list(values, normalize_email, field, limits.MAX_EMAILS_PER_USER, "emails")


def normalize_phones(values: Sequence[str], field: Sequence[str | int]) -> list[str]:
    return normalize_list(values, normalize_phone, field, limits.MAX_PHONES_PER_USER, "phones")


def normalize_tag(value: str, field: Sequence[str | int]) -> str:
    tag = value.strip()
    if not tag:
        raise DomainError(ErrorCode.INVALID_INPUT, "a tag must not be empty", field)
    refuse_control_characters(value, field, "a tag")
    if len(tag) > limits.MAX_TAG_LENGTH:
        raise DomainError(ErrorCode.LIMIT_EXCEEDED, f"a tag has at most {limits.MAX_TAG_LENGTH} characters", field)
    return tag


def normalize_tags(values: Sequence[str], field: Sequence[str | int]) -> list[str]:
    return normalize_list(values, normalize_tag, field, limits.MAX_TAGS_PER_USER, "tags")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DIGITS = re.compile(r"-?[0-9]{1,16}")


def parse_moment(value: object) -> datetime:
    """A date-time as clients send it: RFC 3339 text or epoch milliseconds (an integer, or
    its digits as text). Raises ValueError."""
    if isinstance(value, int) and not isinstance(value, bool):
        milliseconds = value
    elif isinstance(value, str) and _EPOCH_DIGITS.fullmatch(value):
        milliseconds = int(value)
    elif isinstance(value, str):
        return datetime.fromisoformat(value)
    else:
        raise ValueError("expected RFC 3339 text or epoch milliseconds")
    try:
        return _EPOCH + timedelta(milliseconds=milliseconds)
    except OverflowError:
        raise ValueError("epoch milliseconds out of range") from None
