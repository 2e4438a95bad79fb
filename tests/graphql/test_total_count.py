"""users { totalCount }: a bounded count with a documented cap, never a timeout or a 500."""

from __future__ import annotations

import pytest

from app.domain.listing import MAX_COUNT_LIMIT
from tests.commands import CommandLog
from tests.domain.test_listing import seed
from tests.helpers import Gateway, Tenant, error_codes

COUNTS = """
query($limit: Int!) {
  users(first: 2) {
    capped: totalCount(limit: $limit) cappedIsExact: totalCountIsExact(limit: $limit)
    totalCount totalCountIsExact
  }
}
"""


async def test_the_count_stops_at_its_limit_and_says_so(gateway: Gateway, tenant: Tenant) -> None:
    await seed(gateway, tenant, *({"externalUserId": f"u{n}"} for n in range(5)))
    data = await gateway.data(COUNTS, {"limit": 3}, token=tenant.app_token)
    assert data["users"] == {"capped": 3, "cappedIsExact": False, "totalCount": 5, "totalCountIsExact": True}
    exact = await gateway.data(COUNTS, {"limit": 5}, token=tenant.app_token)
    assert exact["users"]["capped"] == 5 and exact["users"]["cappedIsExact"] is True


async def test_both_fields_share_one_count_per_limit(gateway: Gateway, tenant: Tenant, command_log: CommandLog) -> None:
    await seed(gateway, tenant, {"externalUserId": "only"})
    query = "{ users(first: 1) { totalCount totalCountIsExact again: totalCount } }"
    with command_log.recording() as sent:
        data = await gateway.data(query, token=tenant.app_token)
    assert data["users"] == {"totalCount": 1, "totalCountIsExact": True, "again": 1}
    assert sent["count users"] == 1 and sent["aggregate users"] == 0


@pytest.mark.parametrize("limit", [0, -1, MAX_COUNT_LIMIT + 1])
async def test_a_limit_out_of_range_is_a_client_error(gateway: Gateway, tenant: Tenant, limit: int) -> None:
    response = await gateway.post(COUNTS, {"limit": limit}, token=tenant.app_token)
    assert response.status_code == 200
    assert set(error_codes(response.json())) == {"LIMIT_EXCEEDED"}
