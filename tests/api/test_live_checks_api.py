"""Live checks over HTTP: set rules per channel, refuse unknown rules and other
organisations' channels naming the field, list what each watch is doing."""

from __future__ import annotations

from tests.factories import World


def test_an_engineer_sets_the_rules_of_a_channel_and_sees_them(client, world: World) -> None:  # type: ignore[no-untyped-def]
    auth = world.a.auth("engineer")
    channel = world.a.ids["channel"]
    put = client.put(
        "/api/live-checks",
        json={
            "subject_kind": "channel",
            "subject_id": channel,
            "rules": ["WE1", "WE4", "anomaly"],
            "false_alarm_rate": 0.001,
            "baseline": 50,
        },
        headers=auth,
    )
    assert put.status_code == 200, put.text
    assert put.json()["rules"] == ["WE1", "WE4", "anomaly"]
    listed = client.get("/api/live-checks", params={"subject_id": channel}, headers=auth).json()
    assert [c["baseline"] for c in listed] == [50]
    assert listed[0]["status"] in ("learning", "watching")
    off = client.put(
        "/api/live-checks",
        json={"subject_kind": "channel", "subject_id": channel, "enabled": False},
        headers=auth,
    )
    assert off.json()["status"] == "off" and off.json()["rules"] == ["WE1", "WE4", "anomaly"]
    rules = client.get("/api/live-checks/rules", headers=auth).json()
    assert "anomaly" in rules["channel"] and "cross_channel" in rules["asset"]


def test_an_unknown_rule_or_another_organisations_channel_is_refused_naming_the_field(
    client, world: World
) -> None:  # type: ignore[no-untyped-def]
    auth = world.a.auth("engineer")
    bad = client.put(
        "/api/live-checks",
        json={"subject_kind": "channel", "subject_id": world.a.ids["channel"], "rules": ["WE9"]},
        headers=auth,
    )
    assert bad.status_code == 422 and "rules" in bad.text, bad.text
    wrong_kind = client.put(
        "/api/live-checks",
        json={
            "subject_kind": "channel",
            "subject_id": world.a.ids["channel"],
            "rules": ["cross_channel"],
        },
        headers=auth,
    )
    assert wrong_kind.status_code == 422 and wrong_kind.json()["field"] == "rules"
    assert "cross_channel" in wrong_kind.json()["detail"]
    foreign = client.put(
        "/api/live-checks",
        json={"subject_kind": "channel", "subject_id": world.b.ids["channel"], "rules": ["WE1"]},
        headers=auth,
    )
    assert foreign.status_code == 422 and "subject_id" in foreign.text
    operator = client.put(
        "/api/live-checks",
        json={"subject_kind": "channel", "subject_id": world.a.ids["channel"], "rules": ["WE1"]},
        headers=world.a.auth("operator"),
    )
    assert operator.status_code == 403
    assert client.get("/api/live-checks", headers=world.b.auth("engineer")).json() == [] or all(
        c["subject_id"] != world.a.ids["channel"]
        for c in client.get("/api/live-checks", headers=world.b.auth("engineer")).json()
    )
