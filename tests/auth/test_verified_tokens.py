"""A bearer token is verified once per process and then recognised by its exact text, while
everything that could make it invalid is still checked on every request: the key behind it
(revocation), its expiry, and the settings it was verified under."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import jwt
import pytest
from starlette.datastructures import Headers

from app.auth import authenticate as authentication
from app.auth import tokens
from app.auth.authenticate import authenticate
from app.auth.tokens import InvalidToken
from app.auth.verified_tokens import Verified, VerifiedTokens
from app.config import Settings
from app.crypto import SecretBox
from app.store.client import Store
from tests.helpers import Gateway, Tenant


def _bearer(token: str) -> Headers:
    return Headers({"authorization": f"Bearer {token}"})


def _counting_verify(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = tokens.verify

    def counted(token: str, secret: str, **options: Any) -> dict[str, Any]:
        calls.append(token)
        return real(token, secret, **options)

    monkeypatch.setattr(authentication, "verify", counted)
    return calls


async def test_a_repeated_token_is_verified_once(
    tenant: Tenant, settings: Settings, store: Store, box: SecretBox, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _counting_verify(monkeypatch)
    token = tenant.app_token
    for _ in range(5):
        assert (await authenticate(_bearer(token), settings, store, box)).app_id == tenant.app_id
    assert calls == [token]


async def test_a_token_with_another_signature_is_refused_after_a_valid_one(
    tenant: Tenant, settings: Settings, store: Store, box: SecretBox
) -> None:
    token = tenant.app_token
    await authenticate(_bearer(token), settings, store, box)
    head, payload, _ = token.split(".")
    wrong_secret = "not the key, but long enough for HS256 32b"
    claims = {"scope": "app", "exp": int(time.time()) + 60}
    forged = jwt.encode(claims, wrong_secret, headers={"kid": tenant.key_id})
    for attempt in (f"{head}.{payload}.{forged.split('.')[2]}", f"{head}.{payload}.AAAA", token + "x"):
        with pytest.raises(InvalidToken):
            await authenticate(_bearer(attempt), settings, store, box)


async def test_a_verified_token_is_refused_once_it_expires(
    tenant: Tenant, settings: Settings, store: Store, box: SecretBox
) -> None:
    strict = settings.model_copy(update={"jwt_leeway_seconds": 0})
    expires = int(time.time()) + 2
    token = jwt.encode({"scope": "app", "exp": expires}, tenant.key_secret, headers={"kid": tenant.key_id})
    assert (await authenticate(_bearer(token), strict, store, box)).app_id == tenant.app_id
    await asyncio.sleep(expires - time.time() + 0.1)
    with pytest.raises(InvalidToken, match="expired"):
        await authenticate(_bearer(token), strict, store, box)


async def test_a_token_verified_without_an_audience_is_checked_again_where_one_is_required(
    tenant: Tenant, settings: Settings, store: Store, box: SecretBox
) -> None:
    token = tenant.app_token
    await authenticate(_bearer(token), settings, store, box)
    with pytest.raises(InvalidToken, match="aud"):
        await authenticate(_bearer(token), settings.model_copy(update={"jwt_audience": "gateway"}), store, box)


async def test_a_verified_token_of_a_revoked_key_is_refused(gateway: Gateway, tenant: Tenant, admin_token: str) -> None:
    token = tenant.app_token
    assert (await gateway.post("{ __typename }", token=token)).status_code == 200
    revoke = "mutation($a: ID!, $k: ID!) { revokeAppKey(appId: $a, keyId: $k) { userErrors { code } } }"
    await gateway.data(revoke, {"a": tenant.app_id, "k": tenant.key_id}, token=admin_token)
    assert (await gateway.post("{ __typename }", token=token)).status_code == 401


def test_the_kept_tokens_are_bounded() -> None:
    kept = VerifiedTokens(max_entries=3)
    claims = {"exp": time.time() + 60}
    for number in range(10):
        kept.put(f"token-{number}", Verified("key", "secret", claims, ()))
    assert len(kept) == 3
    assert kept.get("token-0", 0) is None and kept.get("token-9", 0) is not None
    kept.put("x" * 5_000, Verified("key", "secret", claims, ()))
    assert kept.get("x" * 5_000, 0) is None
