"""The userError codes mutations declare (``codes=`` of ``@mutation``), named by what the
mutation does, so mutations that do the same kind of write declare the same codes.

Sets, not lists: a mutation's description lists its codes in the enum's order whatever the
order here, so combining sets changes nothing in the schema.
"""

from __future__ import annotations

from typing import Final

from app.domain.errors import ErrorCode

# Bounded input that names nothing stored yet (a new app, endpoint, category, bulk records).
INPUT_CODES: Final = frozenset({ErrorCode.INVALID_INPUT, ErrorCode.LIMIT_EXCEEDED})

# A user named with `by:` (a malformed email or phone, or nobody by that name).
USER_REF_CODES: Final = frozenset(
    {ErrorCode.INVALID_INPUT, ErrorCode.INVALID_EMAIL, ErrorCode.INVALID_PHONE, ErrorCode.NOT_FOUND}
)
# A change to that user, guarded by its version.
USER_WRITE_CODES: Final = USER_REF_CODES | {ErrorCode.VERSION_CONFLICT}
# A change that can grow one of the user's bounded lists (tags, channels, preferences, attributes).
BOUNDED_USER_WRITE_CODES: Final = USER_WRITE_CODES | {ErrorCode.LIMIT_EXCEEDED}

# Custom attribute keys and values.
ATTRIBUTE_CODES: Final = frozenset(
    {ErrorCode.INVALID_INPUT, ErrorCode.INVALID_KEY, ErrorCode.RESERVED_KEY, ErrorCode.TYPE_MISMATCH}
)

# A write of identifiers (externalUserId, emails, phones): another user may hold one, or a
# merge it needs may be interrupted.
IDENTIFIER_WRITE_CODES: Final = frozenset(
    {
        ErrorCode.INVALID_INPUT,
        ErrorCode.INVALID_EMAIL,
        ErrorCode.INVALID_PHONE,
        ErrorCode.USER_MERGE_INTERRUPTED,
        ErrorCode.CONFLICTING_IDENTITIES,
        ErrorCode.VERSION_CONFLICT,
        ErrorCode.LIMIT_EXCEEDED,
    }
)
# A whole profile: identifiers and custom attributes together.
PROFILE_WRITE_CODES: Final = IDENTIFIER_WRITE_CODES | ATTRIBUTE_CODES

# A change to an installation named by its pushRegistrationId, guarded by its user's version.
INSTALLATION_WRITE_CODES: Final = frozenset({ErrorCode.NOT_FOUND, ErrorCode.VERSION_CONFLICT})
