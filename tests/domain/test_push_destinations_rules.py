"""The read-time rule that turns installations into push channels (pure, no store)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from app.domain.push_destinations import effective_channels

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _installation(prid: str, **fields: Any) -> dict[str, Any]:
    return {"_id": f"i-{prid}", "pushRegistrationId": prid, "platform": "ANDROID", "createdAt": NOW, **fields}


def _stored(prid: str | None, token: str) -> dict[str, Any]:
    channel = {"id": f"c-{token}", "type": "ANDROID_PUSH", "key": f"token:{token}", "address": token, "optedIn": True}
    return channel if prid is None else {**channel, "pushRegistrationId": prid}


def test_a_stored_channel_of_an_owned_device_shows_the_devices_current_token_once() -> None:
    user = {"channels": [_stored("dev-1", "old")]}
    shown = effective_channels(user, [_installation("dev-1", pushToken="new", pushProvider="XIAOMI")])
    assert [(channel["id"], channel["address"], channel["provider"]) for channel in shown] == [
        ("c-old", "new", "XIAOMI")
    ]


def test_a_token_for_no_known_device_stays_but_one_for_someone_elses_device_is_hidden() -> None:
    user = {"channels": [_stored(None, "plain"), _stored("unknown", "a"), _stored("theirs", "b")]}
    shown = effective_channels(user, [], {"theirs"})
    assert [channel["address"] for channel in shown] == ["plain", "a"]
    assert effective_channels(user, [], {"theirs"}, primary_only=True) == []


def test_web_and_tokenless_installations_are_no_push_channel() -> None:
    owned = [_installation("web", platform="WEB", pushToken="w"), _installation("bare")]
    assert effective_channels({}, owned) == []
