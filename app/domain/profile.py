"""The user profile document: validating a patch and applying it in memory.

Writes load the document, apply the patch here, check the limits on the result and
store it with a version guard, so every rule is checked against what will be stored.
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from app.crypto import SecretBox
from app.domain import attributes, clock, limits
from app.domain.attributes import TypedValue
from app.domain.channel_documents import Sealed, merge_channels, seal
from app.domain.channel_specs import ChannelSpec, ValidChannel, validate_channel
from app.domain.errors import DomainError, ErrorCode, ErrorCollector
from app.domain.identifiers import (
    normalize_emails,
    normalize_external_user_id,
    normalize_phones,
    normalize_tags,
    refuse_control_characters,
)
from app.domain.patch import UNSET, Maybe
from app.store import ids

Document = dict[str, Any]
Field = tuple[str | int, ...]

# BCP 47: a language subtag, then optional script/region/variant subtags.
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,6}$")


class ProfileType(StrEnum):
    LEAD = "LEAD"
    CUSTOMER = "CUSTOMER"


TEXT_FIELDS = ("givenName", "surname", "middleName", "gender")


@dataclass(slots=True)
class UserPatch:
    """What a client asked to change. Field names follow the GraphQL input."""

    external_user_id: Maybe[str] = UNSET
    given_name: Maybe[str] = UNSET
    surname: Maybe[str] = UNSET
    middle_name: Maybe[str] = UNSET
    gender: Maybe[str] = UNSET
    birthday: Maybe[date] = UNSET
    signed_up_at: Maybe[datetime] = UNSET
    preferred_language: Maybe[str] = UNSET
    timezone: Maybe[str] = UNSET
    emails: Maybe[list[str]] = UNSET
    phones: Maybe[list[str]] = UNSET
    tags: Maybe[list[str]] = UNSET
    custom_attributes: list[tuple[str, TypedValue]] | None = None
    channels: list[ChannelSpec] | None = None  # added, or updated when the endpoint is known
    # Contact data nobody vouched for (what an anonymous lead typed in as emails/phones; see
    # app/domain/claims.py): stored apart from the identifiers, never used to find a user.
    unverified_emails: Maybe[list[str]] = UNSET
    unverified_phones: Maybe[list[str]] = UNSET


@dataclass(frozen=True, slots=True)
class DerivedEmail:
    """An email identifier that comes from an externalUserId, and where that id was given."""

    email: str
    field: Field


def add_derived_email(document: Document, derived: DerivedEmail | None) -> None:
    """Add the email an externalUserId also is to the user's emails (in place)."""
    if derived is None or derived.email in document.get("emails", []):
        return
    emails = [*document.get("emails", []), derived.email]
    if len(emails) > limits.MAX_EMAILS_PER_USER:
        raise DomainError(
            ErrorCode.LIMIT_EXCEEDED, f"a user has at most {limits.MAX_EMAILS_PER_USER} emails", derived.field
        )
    document["emails"] = emails


@dataclass(slots=True)
class ValidPatch:
    """A validated patch: ``assign`` holds stored values, ``remove`` the fields to drop."""

    assign: Document = field(default_factory=dict)
    remove: set[str] = field(default_factory=set)
    attributes_set: dict[str, tuple[attributes.AttributeType, Any]] = field(default_factory=dict)
    attributes_unset: set[str] = field(default_factory=set)
    channels: list[tuple[ValidChannel, Sealed]] = field(default_factory=list)
    # What the client sent for each set key, and where: attribute definitions re-check these.
    attribute_inputs: dict[str, tuple[TypedValue, Field]] = field(default_factory=dict)
    # The email the externalUserId also is (app/domain/email_identifier.py), added to the
    # user's emails, and the input path of that externalUserId (what a conflict names).
    derived_email: DerivedEmail | None = None

    @property
    def external_user_id(self) -> str | None:
        value = self.assign.get("externalUserId")
        return value if isinstance(value, str) else None

    def derive_email(self, email: str | None, path: Field) -> None:
        """Also add ``email`` (what the externalUserId is) to the user's emails, unless the
        patch lists it itself (then a conflict names that list item)."""
        if email is not None and email not in self.assign.get("emails", []):
            self.derived_email = DerivedEmail(email, (*path, "externalUserId"))


def _text(value: str, path: Field, name: str) -> str:
    if len(value) > limits.MAX_NAME_LENGTH:
        raise DomainError(ErrorCode.LIMIT_EXCEEDED, f"{name} has at most {limits.MAX_NAME_LENGTH} characters", path)
    return refuse_control_characters(value, path, name).strip()


def _language(value: str, path: Field) -> str:
    if not LANGUAGE_TAG.fullmatch(value):  # fullmatch: "$" alone accepts a final newline
        raise DomainError(ErrorCode.INVALID_INPUT, f"{value[:40]!r} is not a BCP 47 language tag", path)
    return value


@functools.cache
def _known_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _timezone(value: str, path: Field) -> str:
    # Checked against the list rather than by loading it: ZoneInfo(value) would turn client
    # input into a file path (and fail with OSError on odd ones).
    if value not in _known_timezones():
        raise DomainError(ErrorCode.INVALID_INPUT, f"{value[:60]!r} is not an IANA time zone", path)
    return value


# Shared with the preferences, which set the same two fields.
validate_language = _language
validate_timezone = _timezone


def _moment(value: datetime, path: Field) -> datetime:
    # Without an offset the instant depends on the server's zone: refuse rather than guess.
    if value.tzinfo is None:
        raise DomainError(ErrorCode.INVALID_INPUT, "a date-time needs a time zone offset (e.g. Z)", path)
    try:
        return clock.stored_precision(value)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise DomainError(ErrorCode.INVALID_INPUT, "a date-time must fall in the years 1 to 9999 (UTC)", path) from None


def validate_patch(patch: UserPatch, path: Field, box: SecretBox | None = None) -> ValidPatch:
    """Check every field, collecting all errors; raise DomainErrors if any.

    ``box`` encrypts channel secrets; a patch with channels needs it.
    """
    errors = ErrorCollector()
    valid = ValidPatch()

    def check(name: str, raw: Any, convert: Any) -> None:
        if raw is UNSET:
            return
        if raw is None:
            valid.remove.add(name)
            return
        try:
            valid.assign[name] = convert(raw, (*path, name))
        except DomainError as error:
            errors.add(error)

    if patch.external_user_id is not UNSET:
        try:
            external = normalize_external_user_id(patch.external_user_id, (*path, "externalUserId"))
        except DomainError as error:
            errors.add(error)
        else:
            if external is None:
                valid.remove.add("externalUserId")
            else:
                valid.assign["externalUserId"] = external
    for name in TEXT_FIELDS:
        check(name, getattr(patch, _snake(name)), lambda v, p, n=name: _text(v, p, n))
    check("birthday", patch.birthday, lambda v, p: attributes.date_to_bson(v))
    check("signedUpAt", patch.signed_up_at, _moment)
    check("preferredLanguage", patch.preferred_language, _language)
    check("timezone", patch.timezone, _timezone)
    check("emails", patch.emails, normalize_emails)
    check("phones", patch.phones, normalize_phones)
    check("tags", patch.tags, normalize_tags)
    # Reported at the input field the client used (emails/phones), stored apart.
    for stored, given, raw, convert in (
        ("unverifiedEmails", "emails", patch.unverified_emails, normalize_emails),
        ("unverifiedPhones", "phones", patch.unverified_phones, normalize_phones),
    ):
        if raw is UNSET:
            continue
        try:
            valid.assign[stored] = [] if raw is None else convert(raw, (*path, given))
        except DomainError as error:
            errors.add(error)
    for name in ("emails", "phones", "tags"):
        if name in valid.remove:  # null clears a list
            valid.remove.discard(name)
            valid.assign[name] = []
    if "signedUpAt" in valid.remove:
        errors.add(DomainError(ErrorCode.INVALID_INPUT, "signedUpAt cannot be removed", (*path, "signedUpAt")))

    # A list longer than a user may hold cannot be valid: one error for it, not one per item.
    custom_attributes = within_limit(
        patch.custom_attributes or [], limits.MAX_CUSTOM_ATTRIBUTES_PER_USER, (*path, "customAttributes"), errors
    )
    changes = attributes.validate_changes(custom_attributes, path, errors)
    valid.attributes_set = changes.stored
    valid.attributes_unset = changes.removed
    valid.attribute_inputs = changes.inputs
    channels = within_limit(patch.channels or [], limits.MAX_CHANNELS_PER_USER, (*path, "channels"), errors)
    for index, spec in enumerate(channels):
        try:
            channel = validate_channel(spec, (*path, "channels", index))
        except DomainError as error:
            errors.add(error)
            continue
        if channel.secrets and box is None:
            raise ValueError("channel secrets can only be stored with the master key (pass box=)")
        valid.channels.append((channel, seal(channel, box) if box is not None else {}))
    errors.raise_if_any()
    return valid


def within_limit[T](items: Sequence[T], limit: int, path: Field, errors: ErrorCollector) -> Sequence[T]:
    """``items``, or nothing (and a LIMIT_EXCEEDED error) when there are more than ``limit``."""
    if len(items) <= limit:
        return items
    errors.add(DomainError(ErrorCode.LIMIT_EXCEEDED, f"at most {limit} {path[-1]} in one request", path))
    return []


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def new_user_document(app_id: str, user_id: str, now: datetime) -> Document:
    return {
        "_id": user_id,
        "appId": app_id,
        "type": ProfileType.LEAD.value,
        "signedUpAt": now,
        "emails": [],
        "phones": [],
        "tags": [],
        "attrs": {},
        "attrMeta": {},
        "channels": [],
        "channelTypes": [],
        "createdAt": now,
        "updatedAt": now,
        "version": 0,
    }


def apply_patch(document: Document, patch: ValidPatch, path: Field, now: datetime) -> Document:
    """A new document with the patch applied and the limits checked."""
    result = {**document, "attrs": dict(document.get("attrs", {})), "attrMeta": dict(document.get("attrMeta", {}))}
    current_external = document.get("externalUserId")
    new_external = patch.external_user_id
    if new_external is not None and current_external not in (None, new_external):
        raise DomainError(
            ErrorCode.CONFLICTING_IDENTITIES,
            "externalUserId never changes once set: a different one is a different person",
            (*path, "externalUserId"),
        )
    if "externalUserId" in patch.remove and current_external is not None:
        raise DomainError(
            ErrorCode.INVALID_INPUT, "externalUserId cannot be removed once set", (*path, "externalUserId")
        )
    result.update(patch.assign)
    for name in patch.remove:
        result.pop(name, None)
    add_derived_email(result, patch.derived_email)
    drop_verified_contact(result)
    apply_attribute_changes(result, patch.attributes_set, patch.attributes_unset, now)
    if patch.channels:
        result["channels"] = merge_channels(document.get("channels", []), patch.channels, (*path, "channels"), now)
    check_document_limits(result, path)
    return result


def drop_verified_contact(document: Document) -> None:
    """Unverified contact values that are now identifiers of the user stop being listed as
    unverified (in place). Contact data never turns into an identifier by itself."""
    for contact, verified in (("unverifiedEmails", "emails"), ("unverifiedPhones", "phones")):
        if document.get(contact):
            held = set(document.get(verified, []))
            document[contact] = [value for value in document[contact] if value not in held]


def apply_attribute_changes(
    document: Document,
    assigned: dict[str, tuple[attributes.AttributeType, Any]],
    removed: set[str],
    now: datetime,
) -> None:
    """Set and remove custom attributes of a user or installation document (in place; its
    ``attrs`` and ``attrMeta`` must be copies the caller owns)."""
    for key, (kind, value) in assigned.items():
        if document["attrMeta"].get(key, {}).get("type") == kind.value and document["attrs"].get(key) == value:
            continue  # the same value again is no change: the attribute's updatedAt stays
        document["attrs"][key] = value
        document["attrMeta"][key] = {"type": kind.value, "updatedAt": now}
    for key in removed:
        document["attrs"].pop(key, None)
        document["attrMeta"].pop(key, None)


def check_document_limits(
    document: Document,
    path: Field,
    *,
    owner: str = "a user",
    whole: str = "a user's profile",
    size_path: Field | None = None,
) -> None:
    """The custom attribute count and the stored size of a user or installation document."""
    if len(document.get("attrs", {})) > limits.MAX_CUSTOM_ATTRIBUTES_PER_USER:
        raise DomainError(
            ErrorCode.LIMIT_EXCEEDED,
            f"{owner} has at most {limits.MAX_CUSTOM_ATTRIBUTES_PER_USER} custom attributes",
            (*path, "customAttributes"),
        )
    # Far below MongoDB's 16 MiB, so repeated saves cannot grow a document without bound.
    if ids.encoded_size(document) > limits.MAX_DOCUMENT_BYTES:
        raise DomainError(
            ErrorCode.LIMIT_EXCEEDED,
            f"{whole} is at most {limits.MAX_DOCUMENT_BYTES // 1024} KiB",
            path if size_path is None else size_path,
        )
