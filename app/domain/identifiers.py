"""Validation and normalisation of the identifiers a user is found by."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from app.domain import limits
from app.domain.confusables import confusable_reason
from app.domain.errors import DomainError, ErrorCode

# Sent by SDKs and integrations that serialise a missing id as text.
NULL_STRINGS = frozenset({"null", "Null", "NULL"})


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
    """A phone number in E.164 (``+`` and country code required)."""
    try:
        number = phonenumbers.parse(value, None)
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
    """None for JSON null and its string spellings; otherwise the trimmed id."""
    if value is None or value in NULL_STRINGS:
        return None
    stripped = value.strip()
    if not stripped:
        raise DomainError(ErrorCode.INVALID_INPUT, "externalUserId must not be empty", field)
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
    if len(tag) > limits.MAX_TAG_LENGTH:
        raise DomainError(ErrorCode.LIMIT_EXCEEDED, f"a tag has at most {limits.MAX_TAG_LENGTH} characters", field)
    return tag


def normalize_tags(values: Sequence[str], field: Sequence[str | int]) -> list[str]:
    return normalize_list(values, normalize_tag, field, limits.MAX_TAGS_PER_USER, "tags")
