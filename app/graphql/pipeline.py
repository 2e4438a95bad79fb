"""The mutation pipeline's claim step: what a caller may assert about identifiers.

Every mutation that writes externalUserId, emails or phones passes its input through here
before any store look-up, so a refusal is decided by the caller's credential alone.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.auth.scopes import Forbidden
from app.domain import claims
from app.domain.profile import Field, UserPatch
from app.graphql.access import Info


def vouched_patch(info: Info, patch: UserPatch, path: Field) -> UserPatch:
    """``patch`` as the caller may apply it (anonymous callers' emails/phones become
    unverified contact data); FORBIDDEN when it asserts an identifier the caller cannot vouch for."""
    try:
        return claims.check_patch(info.context.principal.claims, patch, path)
    except claims.ClaimRefused as refused:
        raise Forbidden(refused.message) from None


def vouched_identity(info: Info, external_user_id: str | None, emails: Sequence[str], phones: Sequence[str]) -> None:
    """FORBIDDEN when the identity names an identifier the caller cannot vouch for."""
    try:
        claims.check_identity(info.context.principal.claims, external_user_id, emails, phones)
    except claims.ClaimRefused as refused:
        raise Forbidden(refused.message) from None
