"""Teaching and inspecting over HTTP: upload images, create, train as a job, inspect."""

from __future__ import annotations

import io
import time

from PIL import Image

from dure.services.demo.sheet_metal import sheet_image
from tests.factories import World

SIZE = 128


def _png(seed: int, label: str) -> bytes:
    out = io.BytesIO()
    Image.fromarray(sheet_image(seed, label, SIZE).pixels).save(out, format="PNG")
    return out.getvalue()


def _files(items: list[tuple[int, str]], field: str = "images") -> list:
    return [
        (field, (f"{label}-{seed}.png", _png(seed, label), "image/png")) for seed, label in items
    ]


def _wait(client, job_id: str, auth: dict[str, str], seconds: float = 300) -> dict:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    seen = set()
    while time.monotonic() < deadline:
        job = client.get(f"/api/jobs/{job_id}", headers=auth).json()
        seen.add(job["status"])
        if job["status"] in ("succeeded", "failed"):
            job["seen"] = seen
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {seconds} s")


def test_teach_train_and_inspect_over_http(client, world: World) -> None:  # type: ignore[no-untyped-def]
    auth = world.a.auth("engineer")
    part = client.post(
        "/api/parts", json={"number": "PANEL-9", "name": "Panel"}, headers=auth
    ).json()
    up = client.post(
        f"/api/parts/{part['id']}/images",
        files=_files([(100 + k, "good") for k in range(10)]),
        data={"label": "good"},
        headers=auth,
    )
    assert up.status_code == 201, up.text
    assert up.json()["images_new"] == 10
    bad = client.post(
        f"/api/parts/{part['id']}/images",
        files=[*_files([(200, "good")]), ("images", ("cut.png", b"\x89PNG\r\n", "image/png"))],
        headers=auth,
    )
    assert bad.status_code == 422 and "cut.png" in bad.json()["detail"]
    unknown = client.post(
        f"/api/parts/{part['id']}/images",
        files=_files([(201, "scratch")]),
        data={"label": "wobble"},
        headers=auth,
    )
    assert unknown.status_code == 422 and "scratch" in unknown.json()["detail"]
    inherited = client.post(  # the OEM's taxonomy holds scratch; the supplier inherits it
        f"/api/parts/{world.a.ids['part']}/images",
        files=_files([(202, "scratch")]),
        data={"label": "scratch", "split": "test"},
        headers=auth,
    )
    assert inherited.status_code == 201, inherited.text

    model = client.post(
        "/api/inspection-models",
        json={"part_id": part["id"], "image_size": SIZE, "coreset_ratio": 0.25},
        headers=auth,
    )
    assert model.status_code == 201, model.text
    model_id = model.json()["id"]
    not_ready = client.post(
        f"/api/inspection-models/{model_id}/inspect",
        files=_files([(900, "good")], "image"),
        headers=auth,
    )
    assert not_ready.status_code == 409

    job = client.post(f"/api/inspection-models/{model_id}/train", headers=auth)
    assert job.status_code == 202, job.text
    done = _wait(client, job.json()["id"], auth)
    assert done["status"] == "succeeded", done["error"]
    card = client.get(f"/api/inspection-models/{model_id}", headers=auth).json()
    assert card["status"] == "ready" and card["card"]["threshold"]["method"] == "false_alarm_rate"

    result = client.post(
        f"/api/inspection-models/{model_id}/inspect",
        files=_files([(901, "scratch")], "image"),
        data={"serial": "SN-1"},
        headers=auth,
    )
    assert result.status_code == 201, result.text
    body = result.json()
    assert body["verdict"] == "ng" and body["score"] >= body["threshold"]
    assert body["defect_type"] is None  # taught without defect examples: no type to name
    heat = client.get(body["heatmap_url"], headers=auth)
    assert heat.status_code == 200 and heat.headers["content-type"] == "image/png"
    assert client.get(body["heatmap_url"], headers=world.b.auth()).status_code == 404

    batch = client.post(
        f"/api/inspection-models/{model_id}/inspect-batch",
        files=_files([(910, "good"), (911, "dent")]),
        headers=auth,
    )
    assert batch.status_code == 202, batch.text
    finished = _wait(client, batch.json()["id"], auth)
    assert finished["status"] == "succeeded" and len(finished["result"]["inspection_ids"]) == 2
    assert client.get(f"/api/jobs/{batch.json()['id']}", headers=world.b.auth()).status_code == 404
    # the same batch sent again (its answer lost, say) is the first job, and adds nothing
    again = client.post(
        f"/api/inspection-models/{model_id}/inspect-batch",
        files=_files([(910, "good"), (911, "dent")]),
        headers=auth,
    )
    assert again.status_code == 200 and again.json()["id"] == batch.json()["id"]
    keyed = {**auth, "Idempotency-Key": "lot 7 tray 3"}
    sent = [
        client.post(
            f"/api/inspection-models/{model_id}/inspect-batch", files=_files(images), headers=keyed
        )
        for images in ([(912, "good")], [(912, "good")], [(913, "good")])
    ]
    assert [r.status_code for r in sent] == [202, 200, 409], [r.text for r in sent]
    assert "Idempotency-Key" in sent[2].json()["detail"]
    too_long = client.post(
        f"/api/inspection-models/{model_id}/inspect-batch",
        files=_files([(912, "good")]),
        headers={**auth, "Idempotency-Key": "k" * 201},
    )
    assert too_long.status_code == 422 and "idempotency-key" in too_long.text.lower()


def test_viewers_cannot_train(client, world: World) -> None:  # type: ignore[no-untyped-def]
    denied = client.post(
        "/api/inspection-models",
        json={"part_id": world.a.ids["part"]},
        headers=world.a.auth("viewer"),
    )
    assert denied.status_code == 403
