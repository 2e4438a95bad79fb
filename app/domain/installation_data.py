"""An installation as clients send it: validation, and applying it to the stored document."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from app.domain import attributes, limits, profile
from app.domain.attributes import TypedValue
from app.domain.errors import DomainError, ErrorCode, ErrorCollector
from app.domain.profile import Document, Field
from app.store import ids

MAX_PUSH_REGISTRATION_ID_LENGTH = 256
PUSH_PROVIDERS = frozenset({"FCM", "APNS", "XIAOMI", "OPPO", "HUAWEI"})
TEXT_FIELDS = ("appVersion", "sdkVersion", "os", "osVersion", "deviceModel")


class Platform(StrEnum):
    ANDROID = "ANDROID"
    IOS = "IOS"
    WEB = "WEB"
    OTHER = "OTHER"


@dataclass(slots=True)
class InstallationData:
    """What a client sent. ``None`` leaves a stored value alone."""

    push_registration_id: str
    platform: Platform
    push_token: str | None = None
    push_provider: str | None = None
    is_push_registration_enabled: bool | None = None
    app_version: str | None = None
    sdk_version: str | None = None
    os: str | None = None
    os_version: str | None = None
    device_model: str | None = None
    language: str | None = None
    timezone: str | None = None
    custom_attributes: list[tuple[str, TypedValue]] = field(default_factory=list)


@dataclass(slots=True)
class ValidInstallation:
    push_registration_id: str
    assign: Document
    attributes_set: dict[str, tuple[attributes.AttributeType, Any]]
    attributes_unset: set[str]
    # What the client sent for each set key, with its path: checked against definitions.
    attribute_inputs: dict[str, tuple[TypedValue, Field]] = field(default_factory=dict)


def validate_push_registration_id(value: str, path: Field) -> str:
    stripped = value.strip()
    if not stripped:
        raise DomainError(ErrorCode.INVALID_INPUT, "pushRegistrationId must not be empty", path)
    if len(stripped) > MAX_PUSH_REGISTRATION_ID_LENGTH:
        raise DomainError(
            ErrorCode.LIMIT_EXCEEDED,
            f"pushRegistrationId has at most {MAX_PUSH_REGISTRATION_ID_LENGTH} characters",
            path,
        )
    return stripped


def _text(value: str, path: Field) -> str:
    if len(value) > limits.MAX_INSTALLATION_FIELD_LENGTH:
        raise DomainError(
            ErrorCode.LIMIT_EXCEEDED,
            f"at most {limits.MAX_INSTALLATION_FIELD_LENGTH} characters",
            path,
        )
    return value.strip()


def validate(data: InstallationData, path: Field = ("input",)) -> ValidInstallation:
    """Check every field, collecting all errors."""
    errors = ErrorCollector()
    assign: Document = {"platform": Platform(data.platform).value}
    push_registration_id = ""
    try:
        push_registration_id = validate_push_registration_id(data.push_registration_id, (*path, "pushRegistrationId"))
    except DomainError as error:
        errors.add(error)
    given = {
        "pushToken": data.push_token,
        "appVersion": data.app_version,
        "sdkVersion": data.sdk_version,
        "os": data.os,
        "osVersion": data.os_version,
        "deviceModel": data.device_model,
    }
    for name, value in given.items():
        if value is not None:
            try:
                assign[name] = _text(value, (*path, name))
            except DomainError as error:
                errors.add(error)
    if data.push_provider is not None:
        provider = data.push_provider.strip().upper()
        if provider not in PUSH_PROVIDERS:
            errors.add(
                DomainError(
                    ErrorCode.INVALID_INPUT,
                    f"pushProvider is one of {', '.join(sorted(PUSH_PROVIDERS))}",
                    (*path, "pushProvider"),
                )
            )
        assign["pushProvider"] = provider
    if data.is_push_registration_enabled is not None:
        assign["isPushRegistrationEnabled"] = data.is_push_registration_enabled
    # The same checks as a user's profile: a time zone is looked up in the IANA list, never
    # loaded by name (ZoneInfo would read client input as a file path).
    for name, text, check in (
        ("language", data.language, profile.validate_language),
        ("timezone", data.timezone, profile.validate_timezone),
    ):
        if text is not None:
            try:
                assign[name] = check(text, (*path, name))
            except DomainError as error:
                errors.add(error)
    custom_attributes = profile.within_limit(
        data.custom_attributes, limits.MAX_CUSTOM_ATTRIBUTES_PER_USER, (*path, "customAttributes"), errors
    )
    changes = attributes.validate_changes(custom_attributes, path, errors)
    errors.raise_if_any()
    return ValidInstallation(push_registration_id, assign, changes.stored, changes.removed, changes.inputs)


def apply(document: Document, valid: ValidInstallation, now: datetime, path: Field = ("input",)) -> Document:
    result = {
        **document,
        **valid.assign,
        "attrs": dict(document.get("attrs", {})),
        "attrMeta": dict(document.get("attrMeta", {})),
    }
    profile.apply_attribute_changes(result, valid.attributes_set, valid.attributes_unset, now)
    profile.check_document_limits(
        result,
        path,
        owner="an installation",
        whole="an installation",
        size_path=(*path, "customAttributes"),
    )
    result["lastSeenAt"] = now
    result["updatedAt"] = now
    return result


def new_document(app_id: str, user_id: str, valid: ValidInstallation, now: datetime) -> Document:
    base: Document = {
        "_id": ids.new_id(),
        "appId": app_id,
        "userId": user_id,
        "pushRegistrationId": valid.push_registration_id,
        "isPushRegistrationEnabled": True,
        "isPrimaryDevice": False,
        "attrs": {},
        "attrMeta": {},
        "createdAt": now,
    }
    return apply(base, valid, now)
