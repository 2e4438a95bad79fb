"""An externalUserId that is an email address is also an email identifier.

"If you set your identifier itself as the email, this property will be auto created": when
the app's ``externalUserIdAsEmail`` setting is on (the default), every write that sets an
externalUserId which is a valid email address (upsertUser, updateUser, personalize,
bulkUpsertUsers, the importer) also adds that address, normalised, to the user's emails.
It goes through the identifier registry like any email: when another user holds it the
write fails with USER_MERGE_INTERRUPTED at the input path of the externalUserId.

Who may claim it follows app/domain/claims.py: an app token may; a user token only when
it carries the same address as its signed ``email`` claim; otherwise the address is simply
not added (the caller asked for an externalUserId, not for an email, so this is no error).
Sessions and X-App-Id callers can never assert an externalUserId at all.
"""

from __future__ import annotations

from collections.abc import Sequence

from app.domain import apps
from app.domain.claims import Authority, Claims
from app.domain.errors import DomainError
from app.domain.identifiers import normalize_email
from app.store.client import Store


def vouched_email(claims: Claims, external_user_id: str | None) -> str | None:
    """The email ``external_user_id`` is, when it is a valid address the caller may claim."""
    if external_user_id is None or "@" not in external_user_id or claims.authority is Authority.NONE:
        return None
    try:
        email = normalize_email(external_user_id)
    except DomainError:
        return None  # an id that is not an email address stays an id only
    if claims.authority is Authority.OWN and email not in claims.emails:
        return None
    return email


async def email_identifiers(
    store: Store, app_id: str, claims: Claims, external_user_ids: Sequence[str | None]
) -> list[str | None]:
    """For each externalUserId (normalised, or None) the email identifier it also adds, or
    None. The app's setting is read only when one of them is an email the caller vouches for:
    other writes cost no extra round trip."""
    emails = [vouched_email(claims, external_user_id) for external_user_id in external_user_ids]
    if any(emails) and not (await apps.settings_of(store, app_id)).external_user_id_as_email:
        return [None] * len(emails)
    return emails


async def email_identifier(store: Store, app_id: str, claims: Claims, external_user_id: str | None) -> str | None:
    """``email_identifiers`` for one write."""
    return (await email_identifiers(store, app_id, claims, [external_user_id]))[0]
