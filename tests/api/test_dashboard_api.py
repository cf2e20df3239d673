"""What the dashboard reads and writes, over HTTP, on a small demo world."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from dure.api.app import create_app
from dure.services.demo.sheet_metal import sheet_image
from dure.services.demo.world import build_demo
from dure.settings import Settings
from dure.store.session import Store

pytestmark = pytest.mark.slow


def _png(seed: int, label: str) -> bytes:
    out = io.BytesIO()
    Image.fromarray(sheet_image(seed, label).pixels).save(out, "PNG")
    return out.getvalue()


def _auth(tokens: dict, slug: str, role: str = "engineer") -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens[slug][role]}"}


def test_dashboard_reads_and_writes(settings: Settings, store: Store, tmp_path: Path) -> None:
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    summary = build_demo(store, settings.home, end=end, history_days=2, parts_per_day=6)
    tokens = json.loads(summary.tokens_file.read_text())
    client = TestClient(create_app(settings, store))
    daesung, mirae = _auth(tokens, "daesung"), _auth(tokens, "mirae")

    # overview: one line per supplier, today's figures, a 14-day trend
    seen = client.get("/api/dashboard/overview", params={"tz": "Asia/Seoul"}, headers=daesung)
    assert seen.status_code == 200, seen.text
    overview = seen.json()
    assert [line["name"] for line in overview["lines"]] == ["Press line 1"]
    line = overview["lines"][0]
    assert len(line["trend"]) == 14
    assert sum(d["inspected"] for d in line["trend"]) == 12
    bad_tz = client.get("/api/dashboard/overview", params={"tz": "Mars/Olympus"}, headers=daesung)
    assert bad_tz.status_code == 422 and "tz" in bad_tz.text

    # a line: newest first, the Pareto adds up, the chart has a point per scored part
    view = client.get(f"/api/lines/{line['line_id']}/dashboard", headers=daesung).json()
    taken = [r["taken_at"] for r in view["recent"]]
    assert taken == sorted(taken, reverse=True) and len(taken) == 12
    assert sum(p["count"] for p in view["pareto"]) == view["figures"]["defective"]
    assert len(view["control_chart"]["points"]) == 12
    assert client.get(f"/api/lines/{line['line_id']}/dashboard", headers=mirae).status_code == 404

    # the threshold: the trade-off on held-out images, then a chosen value used at once
    model = client.get("/api/inspection-models", headers=daesung).json()["items"][0]
    trade = client.get(f"/api/inspection-models/{model['id']}/threshold", headers=daesung).json()
    assert trade["curve"][0]["false_alarm_rate"] == 1.0
    assert trade["curve"][-1]["false_alarm_rate"] == 0.0
    chosen = trade["curve"][-1]["threshold"]
    url = f"/api/inspection-models/{model['id']}/threshold"
    assert client.post(url, json={"value": -1}, headers=daesung).status_code == 422
    operator = _auth(tokens, "daesung", "operator")
    assert client.post(url, json={"value": chosen}, headers=operator).status_code == 403
    assert client.post(url, json={"value": chosen}, headers=mirae).status_code in (404, 422)
    saved = client.post(url, json={"value": chosen}, headers=daesung).json()
    assert saved["card"]["threshold"]["method"] == "chosen"
    assert saved["card"]["calibrated_threshold"]["value"] == trade["calibrated"]["value"]
    inspected = client.post(
        f"/api/inspection-models/{model['id']}/inspect",
        files={"image": ("p.png", _png(77, "good"), "image/png")},
        headers=daesung,
    ).json()
    assert inspected["threshold"] == pytest.approx(chosen)

    # the review queue: flagged, undecided; a decision becomes a labelled image
    queue = client.get("/api/review-queue", headers=operator).json()
    assert queue["waiting"] == len(queue["items"])
    record = client.get("/api/inspections", params={"limit": 1}, headers=operator).json()["items"][
        0
    ]
    review = f"/api/inspections/{record['id']}/review"
    bad = client.post(review, json={"decision": "relabel", "defect_type": "nope"}, headers=operator)
    assert bad.status_code == 422 and "defect_type" in bad.text
    assert client.post(review, json={"decision": "accept"}, headers=operator).status_code == 200
    images = f"/api/parts/{record['part_id']}/images"
    labelled = [
        i
        for i in client.get(images, params={"limit": 500}, headers=daesung).json()["items"]
        if i["source_name"] == f"review-{record['id']}"
    ]
    assert [i["label"] for i in labelled] == ["good"]
    again = {"decision": "relabel", "defect_type": "dent"}
    assert client.post(review, json=again, headers=operator).status_code == 200
    labelled = [
        i
        for i in client.get(images, params={"limit": 500}, headers=daesung).json()["items"]
        if i["source_name"] == f"review-{record['id']}"
    ]
    assert [i["label"] for i in labelled] == ["dent"]  # replaced, not added twice

    # teaching from inspections: one foreign id refuses the whole pick
    foreign = client.get("/api/inspections", params={"limit": 1}, headers=mirae).json()["items"]
    own = client.get("/api/inspections", params={"limit": 3}, headers=daesung).json()["items"]
    pick = f"/api/parts/{own[0]['part_id']}/images/from-inspections"
    before = len(client.get(images, params={"limit": 500}, headers=daesung).json()["items"])
    refused = client.post(
        pick,
        json={"inspection_ids": [own[1]["id"], foreign[0]["id"]]},
        headers=daesung,
    )
    assert refused.status_code in (404, 422) and foreign[0]["id"] in refused.text
    after = len(client.get(images, params={"limit": 500}, headers=daesung).json()["items"])
    assert after == before


def test_the_dashboard_is_served_at_the_root(tmp_path: Path, settings: Settings) -> None:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><div id=root></div>")
    (dist / "assets" / "app-1.js").write_text("console.log(1)")
    client = TestClient(create_app(settings.model_copy(update={"web_dir": dist})))
    assert "id=root" in client.get("/").text
    assert "id=root" in client.get("/lines/abc").text  # the app's own paths load on refresh
    asset = client.get("/assets/app-1.js")
    assert asset.text == "console.log(1)" and "immutable" in asset.headers["cache-control"]
    missing = client.get("/api/no-such-thing")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert client.get("/../../etc/passwd").status_code in (200, 404)
    assert "root:" not in client.get("/%2e%2e/%2e%2e/etc/passwd").text
    unbuilt = TestClient(create_app(settings.model_copy(update={"web_dir": tmp_path / "none"})))
    page = unbuilt.get("/")
    assert page.status_code == 503 and "make up" in page.text
