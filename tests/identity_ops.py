"""GraphQL operations and small helpers shared by the installation and identity tests."""

from __future__ import annotations

from typing import Any

from tests.helpers import Gateway, Tenant

INSTALLATION_FIELDS = """
  id pushRegistrationId platform isPushRegistrationEnabled isPrimaryDevice hasPushToken pushToken
  pushProvider appVersion os language timezone createdAt lastSeenAt
  customAttributes { key type value }
  user { id type externalUserId }
"""

SAVE = f"""
mutation($input: InstallationInput!) {{
  saveInstallation(input: $input) {{
    installation {{ {INSTALLATION_FIELDS} }}
    sessionToken
    userErrors {{ code message field }}
  }}
}}
"""

PERSONALIZE = """
mutation($prid: String!, $identity: UserIdentityInput!, $attributes: UserPatch,
         $force: Boolean = false, $keepAsLead: Boolean = false) {
  personalize(pushRegistrationId: $prid, identity: $identity, attributes: $attributes,
              forceDepersonalize: $force, keepAsLead: $keepAsLead) {
    user { id externalUserId type emails phones tags version
           customAttributes { key type value }
           installations { pushRegistrationId isPrimaryDevice } }
    installation { pushRegistrationId user { id } }
    userErrors { code message field }
  }
}
"""

DEPERSONALIZE = """
mutation($prid: String!) {
  depersonalize(pushRegistrationId: $prid) {
    installation { pushRegistrationId isPrimaryDevice user { id type externalUserId } }
    sessionToken
    userErrors { code message field }
  }
}
"""

MERGE = """
mutation($target: UserRef!, $source: UserRef!, $strategy: MergeStrategy = PREFER_TARGET) {
  mergeUsers(target: $target, source: $source, strategy: $strategy) {
    user { id externalUserId type emails phones tags givenName
           customAttributes { key type value }
           installations { pushRegistrationId isPrimaryDevice } }
    userErrors { code message field }
  }
}
"""

UPSERT = """
mutation($input: UpsertUserInput!) {
  upsertUser(input: $input) { user { id externalUserId } userErrors { code message field } }
}
"""

USER = """
query($by: UserRef!) {
  user(by: $by) {
    id externalUserId type emails phones tags
    customAttributes { key type value }
    installations { pushRegistrationId isPrimaryDevice }
  }
}
"""


def session_headers(token: str) -> dict[str, str]:
    return {"x-session-token": token}


async def register_anonymous(gateway: Gateway, tenant: Tenant, prid: str, **fields: Any) -> tuple[dict[str, Any], str]:
    """saveInstallation with only X-App-Id, as an SDK does: the installation and session token."""
    data = await gateway.data(
        SAVE,
        {"input": {"pushRegistrationId": prid, "platform": "IOS", **fields}},
        headers={"x-app-id": tenant.app_id},
    )
    payload = data["saveInstallation"]
    assert payload["userErrors"] == []
    assert payload["sessionToken"]
    return payload["installation"], payload["sessionToken"]


async def register(gateway: Gateway, tenant: Tenant, prid: str, **fields: Any) -> dict[str, Any]:
    """saveInstallation with the app token."""
    data = await gateway.data(
        SAVE,
        {"input": {"pushRegistrationId": prid, "platform": "ANDROID", **fields}},
        token=tenant.app_token,
    )
    payload = data["saveInstallation"]
    assert payload["userErrors"] == [], payload["userErrors"]
    installation: dict[str, Any] = payload["installation"]
    return installation


async def personalize(
    gateway: Gateway,
    tenant: Tenant,
    prid: str,
    identity: dict[str, Any],
    token: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    data = await gateway.data(
        PERSONALIZE, {"prid": prid, "identity": identity, **extra}, token=token or tenant.app_token
    )
    payload: dict[str, Any] = data["personalize"]
    return payload


async def user_by(gateway: Gateway, tenant: Tenant, **by: str) -> dict[str, Any] | None:
    data = await gateway.data(USER, {"by": by}, token=tenant.app_token)
    user: dict[str, Any] | None = data["user"]
    return user


def assert_forbidden(body: dict[str, Any]) -> None:
    """A FORBIDDEN error and no data at all (a nullable root field is null)."""
    assert [error.get("extensions", {}).get("code") for error in body.get("errors", [])] == ["FORBIDDEN"], body
    data = body.get("data")
    assert data is None or all(value is None for value in data.values()), data
