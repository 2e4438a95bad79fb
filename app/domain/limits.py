"""Documented limits (docs/reference/limits.md, generated from here by `profile-gateway export-docs`).
Exceeding one is LIMIT_EXCEEDED, never a silent cut."""

from __future__ import annotations

from typing import Final

MAX_CUSTOM_ATTRIBUTES_PER_USER: Final = 200
MAX_STRING_LENGTH: Final = 4_096
MAX_LIST_LENGTH: Final = 100  # items in any list value (strings, numbers, objects), at any depth
MAX_OBJECT_FIELDS: Final = 50  # keys in one object, at any depth
MAX_OBJECT_DEPTH: Final = 5  # nested object levels in one value (an OBJECT attribute is level 1)
MAX_VALUE_NODES: Final = 1_000  # keys and list items in one attribute value, all levels together
MAX_VALUE_BYTES: Final = 16 * 1024  # one attribute value as stored (BSON)
MAX_NUMBER_ADJUSTED_EXPONENT: Final = 6_000  # |a number| < 1E+6001: far inside Decimal128, so sums never overflow
MAX_TAGS_PER_USER: Final = 100
MAX_TAG_LENGTH: Final = 64
MAX_EMAILS_PER_USER: Final = 10
MAX_PHONES_PER_USER: Final = 10
MAX_CHANNELS_PER_USER: Final = 50
# A person's devices. An end user's own token may personalize any number of anonymous
# installations into its profile; this bounds every read of a user's installations and push
# channels, and every merge and erasure of the user.
MAX_INSTALLATIONS_PER_USER: Final = 100
MAX_NAME_LENGTH: Final = 256  # standard text attributes
MAX_EXTERNAL_USER_ID_LENGTH: Final = 256
MAX_DOCUMENT_BYTES: Final = 256 * 1024  # a user's stored document, well under MongoDB's 16 MiB
MAX_NUMBER_DIGITS: Final = 34  # Decimal128 precision
MAX_INSTALLATION_FIELD_LENGTH: Final = 512
MAX_OPERATIONS_PER_CALL: Final = 100
