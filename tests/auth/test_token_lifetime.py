"""Token time claims: numbers only, and no token lives longer than its scope's maximum."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import jwt
import pytest

from app.auth import tokens
from app.config import Settings
from tests.helpers import Gateway, Tenant

HOUR = 3600


def _app_key_token(tenant: Tenant, claims: dict[str, Any]) -> str:
    return jwt.encode(claims, tenant.key_secret, algorithm="HS256", headers={"kid": tenant.key_id})


async def _status(gateway: Gateway, token: str) -> int:
    return (await gateway.post("{ __typename }", token=token)).status_code


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf"])
async def test_a_time_claim_given_as_a_numeric_string_is_401(gateway: Gateway, tenant: Tenant, claim: str) -> None:
    now = int(time.time())
    claims: dict[str, Any] = {"scope": "app", "exp": now + 600, "iat": now, "nbf": now}
    assert await _status(gateway, _app_key_token(tenant, claims)) == 200
    claims[claim] = str(claims[claim])
    response = await gateway.post("{ __typename }", token=_app_key_token(tenant, claims))
    assert response.status_code == 401
    assert "must be a number" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("scope", ["app", "user"])
async def test_a_token_living_longer_than_the_maximum_is_401(
    gateway: Gateway, tenant: Tenant, settings: Settings, scope: str
) -> None:
    assert settings.max_user_token_lifetime_hours == settings.max_app_token_lifetime_hours == 24
    now = int(time.time())
    claims = {"scope": scope, "sub": "someone", "iat": now}
    assert await _status(gateway, _app_key_token(tenant, {**claims, "exp": now + 23 * HOUR})) == 200
    response = await gateway.post("{ __typename }", token=_app_key_token(tenant, {**claims, "exp": now + 25 * HOUR}))
    assert response.status_code == 401
    assert "lifetime" in response.json()["errors"][0]["message"]
    # Without iat the lifetime counts from now.
    assert await _status(gateway, _app_key_token(tenant, {"scope": scope, "sub": "x", "exp": now + 25 * HOUR})) == 401
    # An iat in the past does not stretch it: exp - iat counts.
    old = {**claims, "iat": now - 20 * HOUR, "exp": now + 5 * HOUR}
    assert await _status(gateway, _app_key_token(tenant, old)) == 401


async def test_an_admin_token_living_longer_than_the_maximum_is_401(gateway: Gateway, settings: Settings) -> None:
    assert settings.admin_secret is not None
    secret = settings.admin_secret.get_secret_value()
    assert await _status(gateway, tokens.mint(secret, {"scope": "admin"}, ttl=timedelta(hours=23))) == 200
    assert await _status(gateway, tokens.mint(secret, {"scope": "admin"}, ttl=timedelta(hours=48))) == 401


def test_the_maximum_lifetime_is_a_setting() -> None:
    settings = Settings(
        mongodb_uri=None,
        max_user_token_lifetime_hours=1,
        max_app_token_lifetime_hours=2,
        max_admin_token_lifetime_hours=3,
    )
    assert settings.token_max_lifetimes == {
        "user": timedelta(hours=1),
        "app": timedelta(hours=2),
        "admin": timedelta(hours=3),
    }
