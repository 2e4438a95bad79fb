"""Bad credentials are HTTP 401; good ones pick the right app and scope."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta

import jwt
import pytest

from app.auth import tokens
from app.config import Settings
from tests.helpers import Gateway, Tenant

ME = "query { me { externalUserId } }"
USER = 'query { user(by: {externalUserId: "nobody"}) { id } }'
REVOKE = """
mutation($appId: ID!, $keyId: ID!) {
  revokeAppKey(appId: $appId, keyId: $keyId) { key { id revokedAt } userErrors { code } }
}
"""


def _b64(part: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")


def _sign(header: dict[str, object], payload: dict[str, object], secret: str) -> str:
    """HS256 by hand, for headers PyJWT refuses to produce."""
    signing_input = f"{_b64(header)}.{_b64(payload)}"
    digest = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(digest).decode().rstrip('=')}"


async def _status(gateway: Gateway, token: str) -> int:
    response = await gateway.post(USER, token=token)
    if response.status_code == 401:
        body = response.json()
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert body.get("data") is None
        assert response.headers["www-authenticate"] == "Bearer"
    return response.status_code


async def test_app_token_is_accepted(gateway: Gateway, tenant: Tenant) -> None:
    assert await _status(gateway, tenant.app_token) == 200


async def test_missing_credentials_are_401(gateway: Gateway) -> None:
    response = await gateway.post(USER)
    assert response.status_code == 401


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc", "Bearer not.a.jwt", "Bearer " + "a" * 9000],
)
async def test_malformed_authorization_headers_are_401(gateway: Gateway, authorization: str) -> None:
    response = await gateway.post(USER, headers={"authorization": authorization})
    assert response.status_code == 401


async def test_alg_none_is_401(gateway: Gateway, tenant: Tenant) -> None:
    payload = {"scope": "app", "exp": int(time.time()) + 600}
    unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': tenant.key_id})}.{_b64(payload)}."
    assert await _status(gateway, unsigned) == 401
    admin_unsigned = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64({'scope': 'admin', 'exp': payload['exp']})}."
    assert await _status(gateway, admin_unsigned) == 401


async def test_other_algorithms_are_401(gateway: Gateway, tenant: Tenant) -> None:
    for algorithm in ("HS384", "HS512"):
        token = jwt.encode(
            {"scope": "app", "exp": int(time.time()) + 600},
            tenant.key_secret,
            algorithm=algorithm,
            headers={"kid": tenant.key_id},
        )
        assert await _status(gateway, token) == 401, algorithm


async def test_wrong_key_is_401(gateway: Gateway, tenant: Tenant, other_tenant: Tenant) -> None:
    wrong = tokens.mint(other_tenant.key_secret, {"scope": "app"}, key_id=tenant.key_id)
    assert await _status(gateway, wrong) == 401


async def test_kid_of_another_apps_key_is_401(gateway: Gateway, tenant: Tenant, other_tenant: Tenant) -> None:
    # Signed with the tenant's own secret but naming the other app's key.
    token = tokens.mint(tenant.key_secret, {"scope": "app"}, key_id=other_tenant.key_id)
    assert await _status(gateway, token) == 401


async def test_unknown_kid_is_401(gateway: Gateway, tenant: Tenant) -> None:
    token = tokens.mint(tenant.key_secret, {"scope": "app"}, key_id="key_doesnotexist")
    assert await _status(gateway, token) == 401


@pytest.mark.parametrize("kid", [123, ["key"], "k" * 65, {"$ne": None}])
async def test_malformed_kid_is_401(gateway: Gateway, tenant: Tenant, kid: object) -> None:
    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    token = _sign(header, {"scope": "app", "exp": int(time.time()) + 600}, tenant.key_secret)
    assert await _status(gateway, token) == 401
    # The hand-made signature is right: the same token with the real kid is accepted.
    header["kid"] = tenant.key_id
    token = _sign(header, {"scope": "app", "exp": int(time.time()) + 600}, tenant.key_secret)
    assert await _status(gateway, token) == 200


async def test_malformed_header_is_401(gateway: Gateway, tenant: Tenant) -> None:
    good = tenant.app_token
    _, payload, signature = good.split(".")
    for header in ("!!!", base64.urlsafe_b64encode(b"not json").decode(), _b64({"typ": "JWT"})):
        assert await _status(gateway, f"{header}.{payload}.{signature}") == 401


async def test_expired_token_is_401(gateway: Gateway, tenant: Tenant, settings: Settings) -> None:
    expired = tokens.mint(
        tenant.key_secret,
        {"scope": "app"},
        key_id=tenant.key_id,
        ttl=-timedelta(seconds=settings.jwt_leeway_seconds + 5),
    )
    assert await _status(gateway, expired) == 401


async def test_token_without_exp_is_401(gateway: Gateway, tenant: Tenant, settings: Settings) -> None:
    no_exp = jwt.encode({"scope": "app"}, tenant.key_secret, algorithm="HS256", headers={"kid": tenant.key_id})
    assert await _status(gateway, no_exp) == 401
    assert settings.admin_secret is not None
    admin_no_exp = jwt.encode({"scope": "admin"}, settings.admin_secret.get_secret_value(), algorithm="HS256")
    assert await _status(gateway, admin_no_exp) == 401


async def test_token_not_yet_valid_is_401(gateway: Gateway, tenant: Tenant) -> None:
    now = int(time.time())
    token = jwt.encode(
        {"scope": "app", "exp": now + 7200, "nbf": now + 3600},
        tenant.key_secret,
        algorithm="HS256",
        headers={"kid": tenant.key_id},
    )
    assert await _status(gateway, token) == 401


async def test_user_token_without_sub_is_401(gateway: Gateway, tenant: Tenant) -> None:
    for claims in ({"scope": "user"}, {"scope": "user", "sub": "  "}):
        token = tokens.mint(tenant.key_secret, claims, key_id=tenant.key_id)
        assert await _status(gateway, token) == 401


@pytest.mark.parametrize("scope", ["admin", "session", "superuser", None])
async def test_app_key_signs_only_app_and_user_tokens(gateway: Gateway, tenant: Tenant, scope: str | None) -> None:
    claims = {"scope": scope} if scope is not None else {}
    token = tokens.mint(tenant.key_secret, claims, key_id=tenant.key_id)
    assert await _status(gateway, token) == 401


async def test_admin_secret_signs_only_admin_tokens(gateway: Gateway, settings: Settings) -> None:
    assert settings.admin_secret is not None
    for scope in ("app", "user"):
        token = tokens.mint(settings.admin_secret.get_secret_value(), {"scope": scope, "sub": "u"})
        assert await _status(gateway, token) == 401, scope


async def test_token_without_kid_signed_by_app_key_is_401(gateway: Gateway, tenant: Tenant) -> None:
    token = tokens.mint(tenant.key_secret, {"scope": "admin"})
    assert await _status(gateway, token) == 401


async def test_revoked_key_stops_working_at_once(gateway: Gateway, tenant: Tenant, admin_token: str) -> None:
    token = tenant.app_token
    user_token = tenant.user_token("u-1")
    assert await _status(gateway, token) == 200
    data = await gateway.data(REVOKE, {"appId": tenant.app_id, "keyId": tenant.key_id}, token=admin_token)
    assert data["revokeAppKey"]["userErrors"] == []
    assert data["revokeAppKey"]["key"]["revokedAt"] is not None
    assert await _status(gateway, token) == 401
    assert await _status(gateway, user_token) == 401
    assert await _status(gateway, tenant.app_token) == 401  # newly minted ones too


async def test_unknown_app_id_header_is_401(gateway: Gateway) -> None:
    response = await gateway.post(USER, headers={"x-app-id": "app_doesnotexist"})
    assert response.status_code == 401


async def test_unknown_session_token_is_401(gateway: Gateway) -> None:
    for value in ("not-a-session", "", "x" * 300):
        response = await gateway.post(USER, headers={"x-session-token": value})
        assert response.status_code == 401
