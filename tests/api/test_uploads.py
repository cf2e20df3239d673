"""Bad uploads through the API: each a clear 4xx that leaves the store as it was."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from dure.store import tables as t
from dure.store.session import Store
from tests.factories import World, png_bytes


def _state(store: Store) -> tuple[int, ...]:
    with store.engine.connect() as conn:
        counts = tuple(
            int(conn.execute(select(func.count()).select_from(tbl)).scalar_one())
            for tbl in (
                t.inspection_records,
                t.blobs,
                t.process_records,
                t.sensor_readings,
                t.import_batches,
            )
        )
    blob_files = (
        sum(1 for p in store.blobs.root.rglob("*") if p.is_file())
        if store.blobs.root.exists()
        else 0
    )
    return (*counts, blob_files)


def test_a_good_image_upload_is_stored(client, store: Store, world: World) -> None:  # type: ignore[no-untyped-def]
    resp = client.post(
        "/api/inspections",
        data={"part_id": world.a.ids["part"], "serial": "S-9"},
        files={"image": ("part-9.png", png_bytes(value=77), "image/png")},
        headers=world.a.auth("operator"),
    )
    assert resp.status_code == 201, resp.text
    sha = resp.json()["image_sha256"]
    assert client.get(f"/api/blobs/{sha}", headers=world.a.auth("viewer")).content == png_bytes(
        value=77
    )


@pytest.mark.parametrize(
    ("filename", "data", "status", "match"),
    [
        ("part.png", png_bytes()[:70], 422, "damaged or truncated|not an image"),
        ("part.png", b"%PDF-1.4 not an image", 422, "not an image"),
        ("part.png", b"\x89PNG" + b"0" * 2_100_000, 413, "over the"),
        ("../../../etc/cron.d/x.png", png_bytes(), 422, "plain file name"),
        ("..\\..\\boot.png", png_bytes(), 422, "plain file name"),
    ],
)
def test_bad_uploads_are_refused_and_nothing_is_kept(  # type: ignore[no-untyped-def]
    client, store: Store, world: World, filename: str, data: bytes, status: int, match: str
) -> None:
    before = _state(store)
    resp = client.post(
        "/api/inspections",
        data={"part_id": world.a.ids["part"]},
        files={"image": (filename, data, "image/png")},
        headers=world.a.auth("operator"),
    )
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    import re

    assert re.search(match, resp.json()["detail"]), resp.json()
    assert _state(store) == before


def test_image_for_a_foreign_part_leaves_no_file(client, store: Store, world: World) -> None:  # type: ignore[no-untyped-def]
    before = _state(store)
    resp = client.post(
        "/api/inspections",
        data={"part_id": world.b.ids["part"]},
        files={"image": ("p.png", png_bytes(value=3), "image/png")},
        headers=world.a.auth("operator"),
    )
    assert resp.status_code == 422 and resp.json()["field"] == "part_id"
    assert _state(store) == before


def test_malformed_csv_import_is_refused_whole(client, store: Store, world: World) -> None:  # type: ignore[no-untyped-def]
    before = _state(store)
    data = (
        b"asset,channel,time,value\n"
        b"press,vib,2026-01-01T00:00:00Z,1\npress,vib,2026-01-01T00:00:01Z,oops\n"
    )
    resp = client.post(
        "/api/imports/sensor-readings",
        files={"file": ("line3.csv", data, "text/csv")},
        headers=world.a.auth("operator"),
    )
    body = resp.json()
    assert resp.status_code == 422 and "nothing was stored" in body["detail"]
    assert body["errors"][0] == {
        "file": "line3.csv",
        "row": 2,
        "column": "value",
        "reason": "'oops' is not a number",
    }
    assert _state(store) == before


def test_skip_policy_through_the_api(client, world: World) -> None:  # type: ignore[no-untyped-def]
    data = b"asset,channel,time,value\npress,vib,2026-01-01T00:00:00Z,1\npress,vib,bad,2\n"
    resp = client.post(
        "/api/imports/sensor-readings",
        data={"on_error": "skip"},
        files={"file": ("l.csv", data, "text/csv")},
        headers=world.a.auth("operator"),
    )
    assert resp.status_code == 201
    assert (resp.json()["rows_new"], resp.json()["rows_rejected"]) == (1, 1)


def test_process_import_with_unknown_column(client, store: Store, world: World) -> None:  # type: ignore[no-untyped-def]
    before = _state(store)
    schema = json.dumps({"parameters": {"force": {"unit": "kN"}}})
    data = b"part,time,force,colour\nsup-a-P1,2026-01-01T00:00:00Z,1,red\n"
    resp = client.post(
        "/api/imports/process-records",
        data={"schema": schema},
        files={"file": ("p.csv", data, "text/csv")},
        headers=world.a.auth("operator"),
    )
    assert resp.status_code == 422 and "unknown column(s) ['colour']" in resp.json()["detail"]
    assert _state(store) == before
