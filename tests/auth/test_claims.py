"""The identity model as pure rules (app/domain/claims.py), and the CLI that mints vouching tokens."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from app.auth import tokens
from app.auth.principal import Principal, Scope
from app.cli import cli
from app.domain.claims import Authority, ClaimRefused, Claims, check_identity, check_patch
from app.domain.patch import UNSET
from app.domain.profile import UserPatch

ALICE = Claims.of_user_token("alice", {"email": "Alice@Example.com", "phone_number": "+44 20 7183 8750"})


def test_user_token_claims_are_normalised() -> None:
    assert Claims(Authority.OWN, "alice", frozenset({"alice@example.com"}), frozenset({"+442071838750"})) == ALICE
    # Malformed or explicitly unverified claims vouch for nothing.
    assert Claims.of_user_token("a", {"email": "not an email", "phone_number": 42}).emails == frozenset()
    assert Claims.of_user_token("a", {"email": "a@example.com", "email_verified": False}).emails == frozenset()


def test_app_tokens_assert_anything() -> None:
    patch = UserPatch(external_user_id="x", emails=["v@example.com"], phones=["+442071838750"])
    assert check_patch(Claims.trusted(), patch, ("input",)) is patch
    check_identity(Claims.trusted(), "x", ["v@example.com"], [])


def test_user_tokens_assert_only_what_they_carry() -> None:
    check_identity(ALICE, "alice", ["ALICE@example.com"], ["+442071838750"])
    own = UserPatch(external_user_id="alice", emails=["alice@EXAMPLE.com"])
    assert check_patch(ALICE, own, ("patch",)) is own
    assert check_patch(ALICE, UserPatch(emails=None), ("patch",)).emails is None  # clearing asserts nothing
    for external, emails, phones in (
        ("bob", [], []),
        (None, ["alice@example.com"], []),
        ("alice", ["bob@example.com"], []),
        ("alice", [], ["+4915112345678"]),
    ):
        with pytest.raises(ClaimRefused):
            check_identity(ALICE, external, emails, phones)
    with pytest.raises(ClaimRefused) as refused:
        check_patch(ALICE, UserPatch(phones=["+4915112345678"]), ("patch",))
    assert refused.value.field == ("patch", "phones")


def test_anonymous_callers_assert_nothing() -> None:
    with pytest.raises(ClaimRefused):
        check_identity(Claims.anonymous(), None, ["a@example.com"], [])
    with pytest.raises(ClaimRefused):
        check_patch(Claims.anonymous(), UserPatch(external_user_id="x"), ("patch",))
    contact = check_patch(Claims.anonymous(), UserPatch(emails=["a@example.com"], given_name="A"), ("patch",))
    assert (contact.emails, contact.phones) == (UNSET, UNSET)
    assert (contact.unverified_emails, contact.unverified_phones, contact.given_name) == (["a@example.com"], UNSET, "A")


def test_principal_claims_by_scope() -> None:
    assert Principal(Scope.APP, app_id="a").claims.authority is Authority.ANY
    assert Principal(Scope.SESSION, app_id="a", user_id="u").claims.authority is Authority.NONE
    user = Principal(Scope.USER, app_id="a", external_user_id="alice", emails=frozenset({"alice@example.com"}))
    assert user.claims == Claims(Authority.OWN, "alice", frozenset({"alice@example.com"}))


def test_token_user_with_email_and_phone() -> None:
    arguments = ["token", "user", "--key-id", "key_1", "--key-secret", "s" * 40, "--sub", "ada"]
    result = CliRunner().invoke(cli, [*arguments, "--email", "ada@example.com", "--phone", "+442071838750"])
    assert result.exit_code == 0, result.output
    claims = tokens.verify(result.output.strip(), "s" * 40, audience=None, leeway_seconds=0)
    assert (claims["sub"], claims["email"], claims["phone_number"]) == ("ada", "ada@example.com", "+442071838750")
    refused = CliRunner().invoke(cli, ["token", "app", "--key-id", "k", "--key-secret", "s" * 40, "--email", "a@b.co"])
    assert refused.exit_code != 0
