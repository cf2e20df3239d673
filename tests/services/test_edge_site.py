"""The site's side of edge boxes, through the API: registration by role, signed result
posts kept exactly once, per-result refusals naming the field, other organisations kept
out, and the signed model package a box pulls (on SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from dure.collab.packages import new_signing_key, verify_package
from dure.collab.signing import fingerprint, message_signed_by, sign_request
from dure.domain.edge import EdgeResult, pointer_message, source_key
from dure.domain.model_versions import ModelVersion
from dure.domain.parts import PartNumber
from dure.domain.users import Caller, Role
from dure.errors import InvalidInput
from dure.models.vision.onnx_inspector import OnnxInspector
from dure.services.demo.sheet_metal import sheet_image
from dure.services.edge_site import results
from dure.services.edge_site.context import EdgeSite
from dure.services.inspection.teaching import TASK
from dure.services.inspection.thresholds import set_threshold
from dure.store.session import Store
from tests.factories import Company, World
from tests.services.inspection_world import LIMITS, engineer_of_a, png

DEVICES = "/api/edge/v1/devices"
RESULTS = "/api/edge/v1/results"
MAP_LEVEL = 2.0


def ready_model(store: Store, world: World, number: str = "EDGE-1") -> tuple[str, str]:
    """A part of supplier A and a ready inspection model of it (no training: the results
    path reads the model's card, never its weights)."""
    with store.session(engineer_of_a(world)) as s:
        part = s.parts.add(PartNumber(org_id=world.a.org.id, number=number, name="Bracket"))
        model = s.model_versions.add(
            ModelVersion(
                org_id=world.a.org.id,
                name=f"inspector {number}",
                version=1,
                task=TASK,
                part_id=part.id,
                blob_sha256="0" * 64,
                status="ready",
                card={"map_level": MAP_LEVEL, "threshold": {"value": 0.5}},
            )
        )
    return part.id, model.id


def register(
    client: TestClient, company: Company, role: str = "engineer", **fields: Any
) -> tuple[Any, bytes]:
    """Register a new box with a fresh key; the answer and the box's private key."""
    private, public = new_signing_key()
    body = {"name": "line 1 camera", "public_pem": public.decode(), **fields}
    return client.post(DEVICES, json=body, headers=company.auth(role)), private


def result(model_id: str, rid: str, *, hot: bool = True, **changes: Any) -> dict[str, Any]:
    """One result as a box sends it: a 64x64 image, a 8x8 raw map (hot corner if ``hot``)."""
    raw = np.full((8, 8), 0.5, dtype=np.float32)
    if hot:
        raw[:3, :3] = 8.0
    wire = EdgeResult(
        rid=rid,
        package_id="p" * 32,
        model_version_id=model_id,
        serial=f"S-{rid[:6]}",
        taken_at=datetime(2026, 12, 1, 9, 30, tzinfo=UTC),
        image=png(sheet_image(7, "good", 64).pixels),
        image_filename=f"{rid[:6]}.png",
        score=0.9 if hot else 0.1,
        threshold=0.5,
        is_defect=hot,
        defect_type="scratch" if hot else None,
        type_confidence=0.8 if hot else None,
        map_shape=(8, 8),
        map_bytes=raw.astype("<f4").tobytes(),
        latency_ms=3.2,
    ).to_wire()
    return {**wire, **changes}


def post(
    client: TestClient,
    company: Company,
    edge_id: str,
    private: bytes,
    results: list[dict[str, Any]],
    *,
    sender: str | None = None,
    tamper: bool = False,
    role: str = "operator",
) -> Any:
    """Post results signed with ``private`` (as ``sender``, default the box itself)."""
    body = json.dumps({"edge_id": edge_id, "results": results}).encode()
    headers = sign_request(private, "POST", RESULTS, sender or edge_id, company.org.id, body)
    if tamper:
        body = body.replace(b'"score": 0.9', b'"score": 0.1')
    headers = {**headers, **company.auth(role), "content-type": "application/json"}
    return client.post(RESULTS, content=body, headers=headers)


def rid(n: int) -> str:
    return f"{n:032x}"


def records_of(store: Store, world: World, part_id: str) -> list[Any]:
    with store.session(engineer_of_a(world), read_only=True) as s:
        return s.inspections.list_own(part_id=part_id)


def test_registering_a_box_needs_an_engineer(client: TestClient, world: World) -> None:
    refused, _ = register(client, world.a, role="operator")
    assert refused.status_code == 403
    bad = client.post(
        DEVICES, json={"name": "x", "public_pem": "not a key"}, headers=world.a.auth("engineer")
    )
    assert bad.status_code == 422 and "public_pem" in bad.text
    made, _ = register(client, world.a, station_id=world.a.ids["station"])
    assert made.status_code == 201, made.text
    device = made.json()
    assert device["org_id"] == world.a.org.id and device["station_id"] == world.a.ids["station"]
    assert device["site_fingerprint"] == fingerprint(device["site_public_pem"])
    assert "PUBLIC KEY" in device["site_public_pem"]
    listed = client.get(DEVICES, headers=world.a.auth("viewer")).json()["devices"]
    assert [(d["id"], d["results_received"], d["last_seen_at"]) for d in listed] == [
        (device["id"], 0, None)
    ]
    again, _ = register(client, world.a)  # the same org key is handed out, not a new one
    assert again.json()["site_public_pem"] == device["site_public_pem"]


def test_a_result_is_stored_once(client: TestClient, store: Store, world: World) -> None:
    part_id, model_id = ready_model(store, world)
    made, private = register(
        client, world.a, model_version_id=model_id, station_id=world.a.ids["station"]
    )
    edge_id = made.json()["id"]
    assert made.json()["part_id"] == part_id  # the model's part
    sent = [result(model_id, rid(1))]
    first = post(client, world.a, edge_id, private, sent)
    assert first.status_code == 200, first.text
    [answer] = first.json()["results"]
    assert answer["status"] == "stored" and answer["reason"] is None
    again = post(client, world.a, edge_id, private, sent * 2)
    assert again.json()["results"] == [{**answer, "status": "duplicate"}] * 2
    [record] = records_of(store, world, part_id)
    assert record.id == answer["inspection_id"]
    assert record.source_key == source_key(edge_id, rid(1))
    assert (record.verdict, record.score, record.defect_type) == ("ng", 0.9, "scratch")
    assert record.station_id == world.a.ids["station"] and record.serial == "S-000000"
    assert record.model_version_id == model_id
    assert record.taken_at == datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    # the heat-map was redrawn on the site: the hot corner (8 / level 2 = 4 > 1) is a region
    [region] = record.regions
    assert region["box"][0] == 0 and region["box"][1] == 0 and region["box"][2] < 40
    heatmap = client.get(f"/api/blobs/{record.heatmap_sha256}", headers=world.a.auth("viewer"))
    assert heatmap.status_code == 200 and heatmap.content[:4] == b"\x89PNG"
    [listed] = client.get(DEVICES, headers=world.a.auth("viewer")).json()["devices"]
    assert listed["results_received"] == 1 and listed["last_seen_at"] is not None


def test_a_post_not_signed_by_the_box_stores_nothing(
    client: TestClient, store: Store, world: World
) -> None:
    part_id, model_id = ready_model(store, world)
    made, private = register(client, world.a, model_version_id=model_id)
    edge_id = made.json()["id"]
    other_key, _ = new_signing_key()
    sent = [result(model_id, rid(2))]
    assert post(client, world.a, edge_id, private, sent, tamper=True).status_code == 401
    assert post(client, world.a, edge_id, other_key, sent).status_code == 401
    unknown = post(client, world.a, rid(99), private, sent, sender=rid(99))
    assert unknown.status_code == 401 and "not registered" in unknown.text
    body = json.dumps({"edge_id": edge_id, "results": sent}).encode()
    unsigned = client.post(
        RESULTS,
        content=body,
        headers={**world.a.auth("operator"), "content-type": "application/json"},
    )
    assert unsigned.status_code == 401
    assert records_of(store, world, part_id) == []
    viewer = post(client, world.a, edge_id, private, sent, role="viewer")
    assert viewer.status_code == 403
    assert records_of(store, world, part_id) == []
    refusals = client.get(
        "/api/audit-events?action=refuse&resource=edge_result", headers=world.a.auth("admin")
    )
    assert len(refusals.json()["items"]) == 4  # each refusal is kept in the audit log


def test_a_bad_result_is_refused_alone_naming_the_field(
    client: TestClient, store: Store, world: World
) -> None:
    part_id, model_id = ready_model(store, world)
    _, other_model = ready_model(store, world, "EDGE-OTHER")
    made, private = register(client, world.a, model_version_id=model_id)
    edge_id = made.json()["id"]
    sent = [
        result(model_id, rid(10)),
        result(model_id, rid(11), score="high"),
        result(model_id, rid(12), model_version_id=rid(404)),
        result(model_id, rid(13), image_b64="aGVsbG8="),  # base64 of "hello": no image
        result(other_model, rid(14)),  # a model of another part, never this box's
        result(model_id, rid(15), hot=False),
    ]
    answer = post(client, world.a, edge_id, private, sent)
    assert answer.status_code == 200, answer.text
    got = answer.json()["results"]
    assert [r["status"] for r in got] == [
        "stored",
        "refused",
        "refused",
        "refused",
        "refused",
        "stored",
    ]
    assert got[1]["reason"].startswith("results[1].score")
    assert got[2]["reason"].startswith("results[2].model_version_id")
    assert got[3]["reason"].startswith("results[3].image_b64")
    assert got[4]["reason"].startswith("results[4].model_version_id")
    assert [r["rid"] for r in got] == [rid(n) for n in range(10, 16)]
    records = {r.id: r for r in records_of(store, world, part_id)}
    assert set(records) == {got[0]["inspection_id"], got[5]["inspection_id"]}
    good = records[got[5]["inspection_id"]]
    assert good.verdict == "ok" and good.regions == [] and good.defect_type is None
    whole = post(client, world.a, edge_id, private, [result(model_id, rid(16))] * 9)
    assert whole.status_code == 422 and "results" in whole.text


def test_another_organisation_cannot_see_or_post_for_a_box(
    client: TestClient, store: Store, world: World
) -> None:
    part_id, model_id = ready_model(store, world)
    made, private = register(client, world.a, model_version_id=model_id)
    edge_id = made.json()["id"]
    assert client.get(DEVICES, headers=world.b.auth("admin")).json() == {"devices": []}
    change = client.put(f"{DEVICES}/{edge_id}", json={}, headers=world.b.auth("admin"))
    assert change.status_code == 404
    pointer = client.get(f"/api/edge/v1/model?edge_id={edge_id}", headers=world.b.auth("admin"))
    assert pointer.status_code == 404
    # B's token with A's box key and id: B has no such box
    stolen = post(client, world.b, edge_id, private, [result(model_id, rid(20))])
    assert stolen.status_code == 401
    assert records_of(store, world, part_id) == []
    # B's own box cannot point at A's model either
    assigned, _ = register(client, world.b, model_version_id=model_id)
    assert assigned.status_code in (404, 422)


def test_a_box_without_a_model_has_no_package(client: TestClient, store: Store, world: World):
    made, _ = register(client, world.a)
    edge_id = made.json()["id"]
    pointer = client.get(f"/api/edge/v1/model?edge_id={edge_id}", headers=world.a.auth("operator"))
    assert pointer.status_code == 200 and pointer.json() == {"package_id": None}
    _, model_id = ready_model(store, world)
    operator = client.put(
        f"{DEVICES}/{edge_id}",
        json={"model_version_id": model_id},
        headers=world.a.auth("operator"),
    )
    assert operator.status_code == 403
    changed = client.put(
        f"{DEVICES}/{edge_id}",
        json={"model_version_id": model_id},
        headers=world.a.auth("engineer"),
    )
    assert changed.status_code == 200 and changed.json()["model_version_id"] == model_id
    bad = client.put(
        f"{DEVICES}/{edge_id}", json={"model_version_id": rid(7)}, headers=world.a.auth("engineer")
    )
    assert bad.status_code == 422 and "model_version_id" in bad.text


def test_a_box_pulls_a_signed_package_that_follows_the_threshold(
    client: TestClient, store: Store, world: World, trained: str
) -> None:
    made, _ = register(client, world.a, model_version_id=trained)
    device = made.json()
    ask = f"/api/edge/v1/model?edge_id={device['id']}"
    pointer = client.get(ask, headers=world.a.auth("operator"))
    assert pointer.status_code == 200, pointer.text
    first = pointer.json()
    assert first["model_version_id"] == trained and first["size"] > 0
    assert first["edge_id"] == device["id"] and first["assignment"] == 1
    assert message_signed_by(device["site_public_pem"], pointer_message(first), first["signature"])
    forged = {**first, "assignment": 7}  # any change breaks the site's signature
    assert not message_signed_by(
        device["site_public_pem"], pointer_message(forged), first["signature"]
    )
    again = client.get(ask, headers=world.a.auth("operator")).json()
    assert {**again, "issued_at": 0, "signature": 0} == {**first, "issued_at": 0, "signature": 0}
    data = client.get(
        f"/api/edge/v1/packages/{first['package_id']}", headers=world.a.auth("operator")
    )
    assert data.status_code == 200 and len(data.content) == first["size"]
    verified = verify_package(
        data.content, {world.a.org.id: device["site_public_pem"].encode()}, revoked=set()
    )
    assert verified.card["kind"] == "edge-inspector"
    assert verified.card["edge_format"] == "dure-edge/1"
    assert verified.card["model_version_id"] == trained
    assert verified.card["package_id"] == first["package_id"]
    inspector = OnnxInspector.from_bundle(verified.model)
    with store.session(engineer_of_a(world), read_only=True) as s:
        card = s.model_versions.get(trained).card
    assert inspector.threshold == card["threshold"]["value"]
    assert inspector.map_level == card["map_level"] == verified.card["map_level"]
    with store.session(engineer_of_a(world)) as s:
        set_threshold(s, trained, float(inspector.threshold) * 1.5)
    moved = client.get(ask, headers=world.a.auth("operator")).json()
    assert moved["package_id"] != first["package_id"]
    assert moved["model_version_id"] == trained and moved["assignment"] == 2
    assert message_signed_by(device["site_public_pem"], pointer_message(moved), moved["signature"])
    assert client.get(ask, headers=world.a.auth("operator")).json()["assignment"] == 2
    with store.session(engineer_of_a(world)) as s:  # back to the first threshold: a new number
        set_threshold(s, trained, float(inspector.threshold))
    back = client.get(ask, headers=world.a.auth("operator")).json()
    assert back["package_id"] == first["package_id"] and back["assignment"] == 3
    data = client.get(
        f"/api/edge/v1/packages/{moved['package_id']}", headers=world.a.auth("operator")
    ).content
    trusted = {world.a.org.id: device["site_public_pem"].encode()}
    bundle = verify_package(data, trusted, revoked=set()).model
    assert OnnxInspector.from_bundle(bundle).threshold == inspector.threshold * 1.5


def test_two_posts_of_one_result_racing_keep_one_record(
    client: TestClient, store: Store, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second post passed its check for earlier records before the first one wrote:
    its insert clashes, and it answers duplicate with the first one's record."""
    part_id, model_id = ready_model(store, world)
    made, private = register(client, world.a, model_version_id=model_id)
    edge_id = made.json()["id"]
    install = client.app.state.install  # type: ignore[attr-defined]
    site = EdgeSite(install.collab, install.inspectors, LIMITS)
    operator = Caller(
        org_id=world.a.org.id,
        user_id=world.a.ids["user_operator"],
        role=Role.OPERATOR,
        org_kind="supplier",
    )
    body = json.dumps({"edge_id": edge_id, "results": [result(model_id, rid(30))]}).encode()

    def signed() -> dict[str, Any]:
        headers = sign_request(private, "POST", RESULTS, edge_id, world.a.org.id, body)
        return results.receive_results(site, operator, "POST", RESULTS, headers, body)

    draw, inner, started = results._draw, [], []

    def draw_while_another_post_lands(*args: Any) -> None:
        draw(*args)
        if not started:  # the other post runs (and commits) while this one draws
            started.append(True)
            inner.append(signed())

    monkeypatch.setattr(results, "_draw", draw_while_another_post_lands)
    outer = signed()
    [first] = inner[0]["results"]
    assert first["status"] == "stored"
    assert outer["results"] == [{**first, "status": "duplicate"}]
    assert [r.id for r in records_of(store, world, part_id)] == [first["inspection_id"]]


def test_a_result_inspected_on_the_box_is_kept_as_the_site_would_have_inspected_it(
    client: TestClient, store: Store, world: World, trained: str
) -> None:
    """End to end: the box's package inspects a scratched panel; the record the site keeps
    from its post has the verdict, type and regions of the site's own inspector."""
    made, private = register(client, world.a, model_version_id=trained)
    device = made.json()
    pointer = client.get(
        f"/api/edge/v1/model?edge_id={device['id']}", headers=world.a.auth("operator")
    ).json()
    data = client.get(
        f"/api/edge/v1/packages/{pointer['package_id']}", headers=world.a.auth("operator")
    ).content
    trusted = {world.a.org.id: device["site_public_pem"].encode()}
    box = OnnxInspector.from_bundle(verify_package(data, trusted, revoked=set()).model)
    pixels = sheet_image(977, "scratch", 128).pixels
    [found] = box.inspect([pixels], ["p977.png"])
    sent = EdgeResult(
        rid=rid(977),
        package_id=pointer["package_id"],
        model_version_id=trained,
        serial="p977.png",
        taken_at=datetime(2026, 12, 1, 10, 0, tzinfo=UTC),
        image=png(pixels),
        image_filename="p977.png",
        score=found.score,
        threshold=found.threshold,
        is_defect=found.is_defect,
        defect_type=found.defect_type,
        type_confidence=found.type_confidence,
        map_shape=found.raw_map.shape,
        map_bytes=found.raw_map.astype("<f4").tobytes(),
    ).to_wire()
    answer = post(client, world.a, device["id"], private, [sent]).json()["results"]
    assert answer[0]["status"] == "stored", answer
    with store.session(engineer_of_a(world), read_only=True) as s:
        record = s.inspections.get(answer[0]["inspection_id"])
        model = s.model_versions.get(trained)
    install = client.app.state.install  # type: ignore[attr-defined]
    [site] = install.inspectors.get(model.blob_sha256).inspect([pixels], ["p977.png"])
    assert found.is_defect and site.is_defect
    assert record.verdict == "ng" and record.defect_type == site.defect_type
    assert record.score == pytest.approx(site.score, rel=1e-5)
    expected = [{**r.as_dict(), "defect_type": site.defect_type} for r in site.regions]
    assert record.regions == expected


@pytest.mark.parametrize(("score", "is_defect"), [(0.9, False), (0.1, True), (0.5, False)])
def test_a_verdict_that_disagrees_with_its_score_is_refused_naming_it(
    score: float, is_defect: bool
) -> None:
    # the box judges score >= threshold as a defect; a result saying otherwise (a bug or a
    # forged post) would put an OK on a part whose score says NG, so it is not kept
    wire = result(rid(404), rid(1), score=score, is_defect=is_defect)
    with pytest.raises(InvalidInput) as refused:
        EdgeResult.from_wire(wire, 3)
    assert refused.value.field == "results[3].is_defect"
    assert EdgeResult.from_wire(result(rid(404), rid(1), score=0.5, is_defect=True)).is_defect
    # right at the threshold the box compares in float32: 0.7 as float32 is just below 0.7
    at = float(np.float32(0.7))
    assert at < 0.7 and bool(np.float32(at) >= 0.7)
    edge = result(rid(404), rid(1), score=at, threshold=0.7, is_defect=True)
    assert EdgeResult.from_wire(edge).is_defect


def test_a_change_of_a_box_is_audited_with_what_it_was_and_became(
    client: TestClient, store: Store, world: World
) -> None:
    station = world.a.ids["station"]
    made, _ = register(client, world.a, station_id=station)
    edge_id = made.json()["id"]
    change = client.put(
        f"{DEVICES}/{edge_id}", json={"station_id": None}, headers=world.a.auth("engineer")
    )
    assert change.status_code == 200, change.text
    with store.session(engineer_of_a(world), read_only=True) as s:
        events = [
            e
            for e in s.audit_events.list_own()
            if e.resource == "edge_device" and e.resource_id == edge_id
        ]
    assert [e.action for e in events if e.action != "create"] == ["assign"]
    assert events[-1].detail == {"station_id": {"from": station, "to": None}}


def test_a_retired_box_is_refused_and_what_it_sent_stays(
    client: TestClient, store: Store, world: World
) -> None:
    part_id, model_id = ready_model(store, world)
    made, private = register(client, world.a, model_version_id=model_id)
    edge_id = made.json()["id"]
    sent = post(client, world.a, edge_id, private, [result(model_id, rid(1))])
    assert sent.status_code == 200 and sent.json()["results"][0]["status"] == "stored"
    retire = f"{DEVICES}/{edge_id}/retire"
    assert client.post(retire, headers=world.a.auth("operator")).status_code == 403
    assert client.post(retire, headers=world.b.auth("engineer")).status_code == 404
    retired = client.post(retire, headers=world.a.auth("engineer"))
    assert retired.status_code == 200, retired.text
    assert retired.json()["retired"] is True and retired.json()["retired_at"]
    assert client.post(retire, headers=world.a.auth("admin")).status_code == 200  # again: kept
    late = post(client, world.a, edge_id, private, [result(model_id, rid(2))])
    assert late.status_code == 401 and "retired" in late.text
    assert [r.serial for r in records_of(store, world, part_id)] == [f"S-{rid(1)[:6]}"]
    ask = client.get(f"/api/edge/v1/model?edge_id={edge_id}", headers=world.a.auth("operator"))
    assert ask.status_code == 410 and "retired" in ask.json()["detail"]
    fetch = client.get(
        f"/api/edge/v1/packages/{rid(3)}?edge_id={edge_id}", headers=world.a.auth("operator")
    )
    assert fetch.status_code == 410 and "retired" in fetch.json()["detail"]
    moved = client.put(
        f"{DEVICES}/{edge_id}", json={"station_id": None}, headers=world.a.auth("engineer")
    )
    assert moved.status_code == 410
    listed = client.get(DEVICES, headers=world.a.auth("viewer")).json()["devices"]
    (shown,) = [d for d in listed if d["id"] == edge_id]
    assert shown["retired"] is True and shown["results_received"] == 1
    with store.session(engineer_of_a(world), read_only=True) as s:
        events = [e for e in s.audit_events.list_own() if e.resource_id in (edge_id, None)]
        refusals = [e for e in s.audit_events.list_own() if e.resource == "edge_result"]
    assert [e.action for e in events if e.resource == "edge_device"].count("retire") == 1
    assert len(refusals) == 1 and "retired" in json.dumps(refusals[0].detail)


def test_a_raw_map_with_a_value_that_is_not_finite_is_refused_naming_it() -> None:
    biggest = float(np.finfo(np.float32).max)
    for bad in ([np.nan], [np.inf], [-np.inf], [np.inf, -np.inf]):
        raw = np.full((8, 8), 0.5, dtype="<f4")
        raw.flat[: len(bad)] = bad
        b64 = base64.b64encode(raw.tobytes()).decode()
        wire = result(rid(1), rid(1), raw_map={"shape": [8, 8], "b64": b64})
        with pytest.raises(InvalidInput, match=r"results\[3\]\.raw_map\.b64.*not finite"):
            EdgeResult.from_wire(wire, 3)
    for edge in (biggest, -biggest):  # the largest finite maps, at the largest side
        raw = np.full((1024, 1024), edge, dtype="<f4")
        b64 = base64.b64encode(raw.tobytes()).decode()
        wire = result(rid(1), rid(1), raw_map={"shape": [1024, 1024], "b64": b64})
        assert EdgeResult.from_wire(wire, 0).map_shape == (1024, 1024)
