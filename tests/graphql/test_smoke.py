from tests.helpers import Gateway, Tenant

UPSERT = """
mutation($input: UpsertUserInput!) {
  upsertUser(input: $input) {
    user { id externalUserId type emails phones tags version customAttributes { key type value } }
    userErrors { code message field }
  }
}
"""


async def test_upsert_and_read_back(gateway: Gateway, tenant: Tenant) -> None:
    data = await gateway.data(
        UPSERT,
        {
            "input": {
                "externalUserId": "u-1",
                "emails": ["Ada@Example.com"],
                "phones": ["+4915112345678"],
                "customAttributes": [{"key": "ltv", "value": {"number": "149.99"}}],
            }
        },
        token=tenant.app_token,
    )
    user = data["upsertUser"]["user"]
    assert data["upsertUser"]["userErrors"] == []
    assert user["emails"] == ["ada@example.com"]
    assert user["customAttributes"] == [{"key": "ltv", "type": "NUMBER", "value": "149.99"}]
    read = await gateway.data(
        'query { user(by: {email: "ADA@example.com"}) { externalUserId version } }', token=tenant.app_token
    )
    assert read["user"] == {"externalUserId": "u-1", "version": 0}
