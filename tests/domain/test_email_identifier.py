"""An externalUserId that is an email address is also an email identifier (the app's
``externalUserIdAsEmail`` setting, on by default), on every write path, claimed only by a
caller who may claim that email."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from app.auth import tokens
from app.crypto import SecretBox
from app.importer.run import Options, run_import
from app.store.client import Store
from tests.commands import CommandLog
from tests.conftest import new_tenant
from tests.helpers import Gateway, Tenant, error_codes
from tests.identity_ops import PERSONALIZE, UPSERT, register, user_by

ADA = "Ada@Example.com"
ADA_EMAIL = "ada@example.com"
UPDATE_APP = """
mutation($appId: ID!, $settings: AppSettingsInput!) {
  updateApp(appId: $appId, settings: $settings) {
    app { id settings { externalUserIdAsEmail } } userErrors { code field }
  }
}
"""
CREATE_APP = """
mutation($name: String!, $settings: AppSettingsInput) {
  createApp(name: $name, settings: $settings) {
    app { id settings { externalUserIdAsEmail } } key { id secret } userErrors { code }
  }
}
"""
UPDATE = """
mutation($by: UserRef!, $patch: UserPatch!) {
  updateUser(by: $by, patch: $patch) { user { externalUserId emails } userErrors { code message field } }
}
"""
BULK = """
mutation($records: [UpsertUserInput!]!) {
  bulkUpsertUsers(records: $records) { status succeeded failures { index code field } }
}
"""


async def _emails(gateway: Gateway, tenant: Tenant, **by: str) -> list[str] | None:
    user = await user_by(gateway, tenant, **by)
    return None if user is None else list(user["emails"])


async def _turn_off(gateway: Gateway, admin_token: str, tenant: Tenant) -> None:
    data = await gateway.data(
        UPDATE_APP, {"appId": tenant.app_id, "settings": {"externalUserIdAsEmail": False}}, token=admin_token
    )
    assert data["updateApp"] == {
        "app": {"id": tenant.app_id, "settings": {"externalUserIdAsEmail": False}},
        "userErrors": [],
    }


def _user_token(tenant: Tenant, sub: str, **claims: Any) -> str:
    return tokens.mint(tenant.key_secret, {"scope": "user", "sub": sub, **claims}, key_id=tenant.key_id)


async def test_upsert_by_an_email_id_creates_the_email_identifier(gateway: Gateway, tenant: Tenant) -> None:
    data = await gateway.data(UPSERT, {"input": {"externalUserId": ADA}}, token=tenant.app_token)
    assert data["upsertUser"]["userErrors"] == []
    assert await _emails(gateway, tenant, externalUserId=ADA) == [ADA_EMAIL]
    # The email finds the same person.
    assert (await user_by(gateway, tenant, email=ADA_EMAIL) or {}).get("externalUserId") == ADA
    # Ids that are not email addresses stay ids only.
    await gateway.data(UPSERT, {"input": {"externalUserId": "user@"}}, token=tenant.app_token)
    assert await _emails(gateway, tenant, externalUserId="user@") == []


async def test_an_upsert_that_lists_emails_keeps_them_and_adds_the_id(gateway: Gateway, tenant: Tenant) -> None:
    variables = {"input": {"externalUserId": ADA, "emails": ["work@example.com"]}}
    assert (await gateway.data(UPSERT, variables, token=tenant.app_token))["upsertUser"]["userErrors"] == []
    assert await _emails(gateway, tenant, externalUserId=ADA) == ["work@example.com", ADA_EMAIL]


async def test_the_setting_off_keeps_the_id_an_id_only(gateway: Gateway, admin_token: str, tenant: Tenant) -> None:
    await _turn_off(gateway, admin_token, tenant)
    await gateway.data(UPSERT, {"input": {"externalUserId": ADA}}, token=tenant.app_token)
    assert await _emails(gateway, tenant, externalUserId=ADA) == []
    assert await user_by(gateway, tenant, email=ADA_EMAIL) is None


async def test_the_setting_is_chosen_at_creation_and_listed(gateway: Gateway, admin_token: str) -> None:
    created = (
        await gateway.data(CREATE_APP, {"name": "off", "settings": {"externalUserIdAsEmail": False}}, token=admin_token)
    )["createApp"]
    assert created["app"]["settings"] == {"externalUserIdAsEmail": False}
    default = (await gateway.data(CREATE_APP, {"name": "default"}, token=admin_token))["createApp"]
    assert default["app"]["settings"] == {"externalUserIdAsEmail": True}
    tenant = Tenant(created["app"]["id"], created["key"]["id"], created["key"]["secret"])
    await gateway.data(UPSERT, {"input": {"externalUserId": ADA}}, token=tenant.app_token)
    assert await _emails(gateway, tenant, externalUserId=ADA) == []
    settings: dict[str, Any] = {}
    after: str | None = None
    while True:  # every app of the shared test store, page by page
        page = (
            await gateway.data(
                "query($after: String) { apps(first: 100, after: $after) "
                "{ nodes { id settings { externalUserIdAsEmail } } pageInfo { hasNextPage endCursor } } }",
                {"after": after},
                token=admin_token,
            )
        )["apps"]
        settings.update((node["id"], node["settings"]) for node in page["nodes"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert settings[created["app"]["id"]] == {"externalUserIdAsEmail": False}
    assert settings[default["app"]["id"]] == {"externalUserIdAsEmail": True}


async def test_update_app_is_for_admins_and_names_a_missing_app(
    gateway: Gateway, admin_token: str, tenant: Tenant
) -> None:
    variables = {"appId": tenant.app_id, "settings": {"externalUserIdAsEmail": False}}
    refused = await gateway.execute(UPDATE_APP, variables, token=tenant.app_token)
    assert error_codes(refused) == ["FORBIDDEN"]
    missing = await gateway.data(UPDATE_APP, {**variables, "appId": "app_nope"}, token=admin_token)
    assert missing["updateApp"] == {"app": None, "userErrors": [{"code": "NOT_FOUND", "field": ["appId"]}]}
    # Omitted settings keep their value.
    same = await gateway.data(UPDATE_APP, {"appId": tenant.app_id, "settings": {}}, token=admin_token)
    assert same["updateApp"]["app"]["settings"] == {"externalUserIdAsEmail": True}


async def test_update_user_setting_the_id_adds_the_email(gateway: Gateway, tenant: Tenant) -> None:
    await gateway.data(UPSERT, {"input": {"phones": ["+442071838750"]}}, token=tenant.app_token)
    data = await gateway.data(
        UPDATE, {"by": {"phone": "+442071838750"}, "patch": {"externalUserId": ADA}}, token=tenant.app_token
    )
    assert data["updateUser"] == {"user": {"externalUserId": ADA, "emails": [ADA_EMAIL]}, "userErrors": []}


async def test_personalize_with_an_email_id_adds_the_email(gateway: Gateway, tenant: Tenant) -> None:
    await register(gateway, tenant, "dev-1")
    data = await gateway.data(
        PERSONALIZE, {"prid": "dev-1", "identity": {"externalUserId": ADA}}, token=tenant.app_token
    )
    assert data["personalize"]["userErrors"] == []
    assert data["personalize"]["user"]["emails"] == [ADA_EMAIL]


async def test_a_user_token_adds_the_email_only_with_the_same_signed_email_claim(
    gateway: Gateway, tenant: Tenant
) -> None:
    await register(gateway, tenant, "dev-1")
    await register(gateway, tenant, "dev-2")
    # Without an email claim the id is the person's own, the email is not vouched for: not
    # added, and no error (the caller asked for no email).
    bare = await gateway.data(
        PERSONALIZE, {"prid": "dev-1", "identity": {"externalUserId": ADA}}, token=_user_token(tenant, ADA)
    )
    assert bare["personalize"]["userErrors"] == []
    assert bare["personalize"]["user"]["emails"] == []
    other = _user_token(tenant, "bob@example.com", email="robert@example.com")
    mismatched = await gateway.data(
        PERSONALIZE, {"prid": "dev-2", "identity": {"externalUserId": "bob@example.com"}}, token=other
    )
    assert mismatched["personalize"]["user"]["emails"] == []

    await register(gateway, tenant, "dev-3")
    vouched = _user_token(tenant, "cy@example.com", email="CY@example.com")
    claimed = await gateway.data(
        PERSONALIZE, {"prid": "dev-3", "identity": {"externalUserId": "cy@example.com"}}, token=vouched
    )
    assert claimed["personalize"]["userErrors"] == []
    assert claimed["personalize"]["user"]["emails"] == ["cy@example.com"]


async def test_a_user_token_updating_its_own_id_adds_the_email_only_when_vouched(
    gateway: Gateway, tenant: Tenant
) -> None:
    for sub, claims, expected in (
        ("dee@example.com", {}, []),
        ("eve@example.com", {"email": "eve@example.com"}, ["eve@example.com"]),
    ):
        await gateway.data(UPSERT, {"input": {"externalUserId": sub}}, token=tenant.app_token)
        # The app removes the email; the person's own token then names its id again.
        cleared = await gateway.data(
            UPDATE, {"by": {"externalUserId": sub}, "patch": {"emails": []}}, token=tenant.app_token
        )
        assert cleared["updateUser"]["user"]["emails"] == []
        data = await gateway.data(
            UPDATE,
            {"by": {"externalUserId": sub}, "patch": {"externalUserId": sub}},
            token=_user_token(tenant, sub, **claims),
        )
        assert data["updateUser"]["userErrors"] == []
        assert data["updateUser"]["user"]["emails"] == expected


async def test_an_email_another_user_holds_interrupts_every_path_at_the_id(
    gateway: Gateway, tenant: Tenant, store: Store
) -> None:
    await gateway.data(UPSERT, {"input": {"emails": [ADA_EMAIL], "givenName": "Other"}}, token=tenant.app_token)
    users_before = await store.users.count_documents({"appId": tenant.app_id})

    upsert = await gateway.data(UPSERT, {"input": {"externalUserId": ADA}}, token=tenant.app_token)
    assert [(e["code"], e["field"]) for e in upsert["upsertUser"]["userErrors"]] == [
        ("USER_MERGE_INTERRUPTED", ["input", "externalUserId"])
    ]
    assert await store.users.count_documents({"appId": tenant.app_id}) == users_before

    await gateway.data(UPSERT, {"input": {"phones": ["+442071838750"]}}, token=tenant.app_token)
    update = await gateway.data(
        UPDATE, {"by": {"phone": "+442071838750"}, "patch": {"externalUserId": ADA}}, token=tenant.app_token
    )
    assert [(e["code"], e["field"]) for e in update["updateUser"]["userErrors"]] == [
        ("USER_MERGE_INTERRUPTED", ["patch", "externalUserId"])
    ]
    assert (await user_by(gateway, tenant, phone="+442071838750") or {}).get("externalUserId") is None

    await register(gateway, tenant, "dev-1")
    personalized = await gateway.data(
        PERSONALIZE, {"prid": "dev-1", "identity": {"externalUserId": ADA}}, token=tenant.app_token
    )
    assert [(e["code"], e["field"]) for e in personalized["personalize"]["userErrors"]] == [
        ("USER_MERGE_INTERRUPTED", ["identity", "externalUserId"])
    ]

    bulk = await gateway.data(
        BULK, {"records": [{"externalUserId": "fine-1"}, {"externalUserId": ADA}]}, token=tenant.app_token
    )
    assert bulk["bulkUpsertUsers"] == {
        "status": "PARTIAL",
        "succeeded": 1,
        "failures": [{"index": 1, "code": "USER_MERGE_INTERRUPTED", "field": ["records", "1", "externalUserId"]}],
    }
    assert await user_by(gateway, tenant, externalUserId=ADA) is None


async def test_bulk_records_add_the_email_and_two_records_cannot_share_it(gateway: Gateway, tenant: Tenant) -> None:
    records = [{"externalUserId": ADA}, {"externalUserId": "plain-id"}, {"externalUserId": "x", "emails": [ADA_EMAIL]}]
    data = await gateway.data(BULK, {"records": records}, token=tenant.app_token)
    assert data["bulkUpsertUsers"] == {
        "status": "PARTIAL",
        "succeeded": 2,
        "failures": [{"index": 2, "code": "INVALID_INPUT", "field": ["records", "2", "emails", "0"]}],
    }
    assert await _emails(gateway, tenant, externalUserId=ADA) == [ADA_EMAIL]
    assert await _emails(gateway, tenant, externalUserId="plain-id") == []


async def test_bulk_with_the_setting_off_adds_no_email(gateway: Gateway, admin_token: str, tenant: Tenant) -> None:
    await _turn_off(gateway, admin_token, tenant)
    data = await gateway.data(BULK, {"records": [{"externalUserId": ADA}]}, token=tenant.app_token)
    assert data["bulkUpsertUsers"]["succeeded"] == 1
    assert await _emails(gateway, tenant, externalUserId=ADA) == []


async def test_the_importer_adds_the_email_unless_the_app_turned_it_off(
    gateway: Gateway, admin_token: str, store: Store, box: SecretBox, tmp_path: Path
) -> None:
    source = tmp_path / "users.ndjson"
    source.write_text('{"externalUserId": "Ada@Example.com"}\n{"externalUserId": "plain"}\n')
    for enabled, expected in ((True, [ADA_EMAIL]), (False, [])):
        tenant = await new_tenant(gateway, admin_token, "import")
        if not enabled:
            await _turn_off(gateway, admin_token, tenant)
        summary = await run_import(store, tenant.app_id, source, Options(batch_size=10), box=box)
        assert (summary.imported, summary.rejected) == (2, 0)
        assert await _emails(gateway, tenant, externalUserId=ADA) == expected


async def test_the_setting_is_read_only_for_ids_that_are_email_addresses(
    gateway: Gateway, tenant: Tenant, store: Store, command_log: CommandLog
) -> None:
    with command_log.recording() as plain:
        await gateway.data(UPSERT, {"input": {"externalUserId": "customer-1"}}, token=tenant.app_token)
    assert plain["find apps"] == 0
    store.app_settings_cache.forget(tenant.app_id)
    with command_log.recording() as email:
        await gateway.data(UPSERT, {"input": {"externalUserId": ADA}}, token=tenant.app_token)
    assert email["find apps"] == 1
    store.app_settings_cache.forget(tenant.app_id)
    records = [{"externalUserId": f"user-{index}@example.com"} for index in range(50)]
    with command_log.recording() as batch:
        data = await gateway.data(BULK, {"records": records}, token=tenant.app_token)
    assert data["bulkUpsertUsers"]["succeeded"] == 50
    assert batch["find apps"] == 1  # once per batch, not per record
    with command_log.recording() as cached:
        await gateway.data(UPSERT, {"input": {"externalUserId": "grace@example.com"}}, token=tenant.app_token)
    assert cached["find apps"] == 0  # kept per process for `app_key_cache_seconds`
