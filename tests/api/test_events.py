"""Server-sent events: an alert stored after the stream opened reaches it (and only its
own organisation's stream); too many streams of one organisation are refused."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from dure.api.routes import events
from dure.domain.alerts import AlertKind
from dure.domain.ids import utcnow
from dure.services.alerts.raising import raise_alert
from dure.services.platform.accounts import system_caller
from dure.store.session import Store
from tests.factories import World


def _first_events(response, wanted: int) -> list[tuple[str, dict]]:  # type: ignore[no-untyped-def]
    found, kind = [], None
    for line in response.iter_lines():
        if line.startswith("event:"):
            kind = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and kind not in (None, "ready"):
            found.append((kind, json.loads(line.split(":", 1)[1])))
            if len(found) >= wanted:
                break
    return found


def test_an_alert_raised_after_the_stream_opened_is_pushed_to_its_organisation_only(
    client, world: World, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(events, "STREAM_SECONDS", 4)
    monkeypatch.setattr(events, "POLL_SECONDS", 0.1)
    with client.stream("GET", "/api/events", headers=world.a.auth("operator")) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        with store.session(system_caller(world.b.org)) as s:
            raise_alert(s, AlertKind.SPC_RULE, world.b.ids["channel"], "WE1", "b's own")
        with store.session(system_caller(world.a.org)) as s:
            raise_alert(s, AlertKind.SPC_RULE, world.a.ids["channel"], "WE2", "a: vib high")
        ((kind, data),) = _first_events(response, 1)
    assert kind == "alert" and data["message"] == "a: vib high"


def test_too_many_streams_of_one_organisation_are_refused(
    client, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    slots = events.StreamSlots(1)
    client.app.state.event_streams = slots

    slots.take(world.a.org.id, utcnow() + timedelta(minutes=1))
    refused = client.get("/api/events", headers=world.a.auth("operator"))
    assert refused.status_code == 429 and "streams" in refused.json()["detail"]
    assert client.get("/api/events").status_code == 401
