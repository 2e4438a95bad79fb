"""Who may claim an identifier: the one rule every write of externalUserId, emails or phones obeys.

Identifiers (externalUserId, emails, phones) decide whose profile a request touches, so a
caller may assert only the identifiers it can vouch for:

- **app tokens** (the business's backend, holding an app key): any identifier.
- **user tokens** (minted by that backend with its app key): their own ``sub`` as
  externalUserId, and an email or phone only when the token carries it as a signed claim
  (``email``, ``phone_number``, as in OpenID Connect; compared after normalisation; a claim
  with ``email_verified`` / ``phone_number_verified`` set to false vouches for nothing).
- **anonymous sessions** (and X-App-Id callers): no identifier at all. The emails and phones
  a lead types in are kept as *unverified contact data* (``unverifiedEmails``,
  ``unverifiedPhones``): they never match an identity look-up, never block another profile
  and never merge profiles. An externalUserId from a session is refused.

On personalize the lead's unverified contact data stays unverified on the profile the
installation ends up on; a value is promoted (moves to ``emails``/``phones``) only when
the identity itself vouches for it, i.e. names the same normalised value.

Every check here is pure and runs before any store look-up, so a refusal never depends
on whether someone else holds the value: the answer cannot be used to learn who is
registered.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from app.domain.errors import DomainError
from app.domain.identifiers import normalize_email, normalize_external_user_id, normalize_phone
from app.domain.patch import UNSET
from app.domain.profile import UserPatch

Field = tuple[str | int, ...]


class Authority(StrEnum):
    ANY = "any"  # app tokens
    OWN = "own"  # user tokens: their sub and their signed claims
    NONE = "none"  # sessions and anonymous callers


class ClaimRefused(Exception):
    """The caller asserted an identifier it cannot vouch for (a FORBIDDEN error). The message
    names the kind of identifier and never the stored state."""

    def __init__(self, message: str, field: Field = ()) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


@dataclass(frozen=True, slots=True)
class Claims:
    """The identifiers a caller can vouch for, normalised."""

    authority: Authority
    external_user_id: str | None = None
    emails: frozenset[str] = field(default_factory=frozenset)
    phones: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def trusted(cls) -> Claims:
        return cls(Authority.ANY)

    @classmethod
    def anonymous(cls) -> Claims:
        return cls(Authority.NONE)

    @classmethod
    def of_user_token(cls, subject: str, token_claims: dict[str, Any]) -> Claims:
        """What a verified user token vouches for: its ``sub``, and its ``email`` and
        ``phone_number`` claims when they are well-formed and not marked unverified."""
        return cls(
            Authority.OWN,
            external_user_id=subject.strip(),
            emails=_vouched(token_claims, "email", "email_verified", normalize_email),
            phones=_vouched(token_claims, "phone_number", "phone_number_verified", normalize_phone),
        )


def _vouched(token_claims: dict[str, Any], name: str, verified_flag: str, normalize: Any) -> frozenset[str]:
    value = token_claims.get(name)
    if not isinstance(value, str) or token_claims.get(verified_flag) is False:
        return frozenset()
    try:
        return frozenset({normalize(value)})
    except DomainError:
        return frozenset()  # a malformed claim vouches for nothing


def _normalised(values: Iterable[str], normalize: Any) -> list[str]:
    """Values that normalise; the others are left to input validation (INVALID_EMAIL...)."""
    result = []
    for value in values:
        try:
            result.append(normalize(value))
        except DomainError:
            continue
    return result


def _check_external(claims: Claims, value: str | None, path: Field) -> None:
    try:
        wanted = normalize_external_user_id(value)
    except DomainError:
        return  # left to input validation
    if wanted is None:
        return
    if claims.authority is Authority.NONE:
        raise ClaimRefused("an anonymous caller cannot assert an externalUserId", path)
    if wanted != claims.external_user_id:
        raise ClaimRefused("a user token may assert only its own externalUserId (its sub)", path)


def _check_values(claims: Claims, kind: str, values: Sequence[str], path: Field) -> None:
    normalize = normalize_email if kind == "emails" else normalize_phone
    vouched = claims.emails if kind == "emails" else claims.phones
    claim = "email" if kind == "emails" else "phone_number"
    for value in _normalised(values, normalize):
        if value not in vouched:
            raise ClaimRefused(f"a user token may assert only the {kind} it carries as a signed `{claim}` claim", path)


def check_identity(claims: Claims, external_user_id: str | None, emails: Sequence[str], phones: Sequence[str]) -> None:
    """An identity (personalize) names only identifiers the caller vouches for."""
    if claims.authority is Authority.ANY:
        return
    if claims.authority is Authority.NONE:
        raise ClaimRefused("an anonymous caller cannot claim an identity", ("identity",))
    if external_user_id is None or normalize_or_none(external_user_id) != claims.external_user_id:
        raise ClaimRefused(
            "a user token may personalize only with its own externalUserId (its sub)", ("identity", "externalUserId")
        )
    _check_values(claims, "emails", emails, ("identity", "emails"))
    _check_values(claims, "phones", phones, ("identity", "phones"))


def normalize_or_none(value: str) -> str | None:
    try:
        return normalize_external_user_id(value)
    except DomainError:
        return None


def check_patch(claims: Claims, patch: UserPatch, path: Field) -> UserPatch:
    """The patch the caller may apply. App tokens: unchanged. User tokens: refused when it
    asserts an unvouched identifier. Anonymous callers: an externalUserId is refused, and
    emails and phones become unverified contact data."""
    if claims.authority is Authority.ANY:
        return patch
    if patch.external_user_id is not UNSET:
        _check_external(claims, patch.external_user_id, (*path, "externalUserId"))
    if claims.authority is Authority.OWN:
        for kind in ("emails", "phones"):
            values = getattr(patch, kind)
            if values not in (UNSET, None):
                _check_values(claims, kind, values, (*path, kind))
        return patch
    return replace(
        patch,
        emails=UNSET,
        phones=UNSET,
        unverified_emails=patch.emails,
        unverified_phones=patch.phones,
    )
