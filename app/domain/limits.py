"""Documented limits (docs/reference/limits.md, generated from here by `profile-gateway export-docs`).
Exceeding one is LIMIT_EXCEEDED, never a silent cut."""

from __future__ import annotations

from typing import Final

MAX_CUSTOM_ATTRIBUTES_PER_USER: Final = 200
MAX_STRING_LENGTH: Final = 4_096
MAX_LIST_LENGTH: Final = 100  # objects in a LIST_OF_OBJECTS value
MAX_OBJECT_FIELDS: Final = 50  # fields in one object of a LIST_OF_OBJECTS value
MAX_TAGS_PER_USER: Final = 100
MAX_TAG_LENGTH: Final = 64
MAX_EMAILS_PER_USER: Final = 10
MAX_PHONES_PER_USER: Final = 10
MAX_CHANNELS_PER_USER: Final = 50
MAX_NAME_LENGTH: Final = 256  # standard text attributes
MAX_EXTERNAL_USER_ID_LENGTH: Final = 256
MAX_DOCUMENT_BYTES: Final = 256 * 1024  # a user's stored document, well under MongoDB's 16 MiB
MAX_NUMBER_DIGITS: Final = 34  # Decimal128 precision
MAX_INSTALLATION_FIELD_LENGTH: Final = 512
MAX_OPERATIONS_PER_CALL: Final = 100
