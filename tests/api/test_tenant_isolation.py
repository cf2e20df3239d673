"""Every route of the OpenAPI document, called by supplier B with supplier A's ids.

The routes are read from the app's own OpenAPI document, so a new route is tested
the day it is added; a path parameter this test does not know fails the test.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from dure.store import tables as t
from dure.store.session import Store
from tests.factories import World, png_bytes

# Tables whose rows belong to an organisation, with the column that says which.
OWNED = {tbl.name: "org_id" for tbl in t.metadata.sorted_tables if "org_id" in tbl.c}
OWNED.pop("audit_events")  # B's failed attempts are audited under B; A's own log is checked apart


def foreign_ids(world: World) -> dict[str, str]:
    a = world.a.ids
    return {
        "org_id": world.a.org.id,
        "user_id": a["user_admin"],
        "token_id": a["token_admin"],
        "site_id": a["site"],
        "line_id": a["line"],
        "station_id": a["station"],
        "asset_id": a["asset"],
        "channel_id": a["channel"],
        "part_id": a["part"],
        "lot_id": a["lot"],
        "inspection_id": a["inspection"],
        "record_id": a["process_record"],
        "sha256": a["blob"],
        "grant_id": a["grant"],
        "version_id": a["model_version"],
        "batch_id": a["import_batch"],
        "grantee_org_id": world.a.org.id,
        "oem_part_id": a["part"],
        "model_version_id": a["model_version"],
        "model_id": a["model_version"],
        "job_id": a["job"],
        "connector_id": a["connector"],
        "alert_id": a["alert"],
        "event_id": a["maintenance_event"],
        "oem_id": world.oem.org.id,
        "supplier_id": world.a.org.id,
        "shipment_id": a["shipment"],
        # collaboration objects supplier A does not have: a guessed id must get 404 too
        "partner_id": "0123456789abcdef0123456789abcdef",
        "package_id": "0123456789abcdef0123456789abcdef",
        "report_id": "0123456789abcdef0123456789abcdef",
        "round_id": "0123456789abcdef0123456789abcdef",
        "edge_id": "0123456789abcdef0123456789abcdef",
        "root_cause_id": "0123456789abcdef0123456789abcdef",
        "supplier_org_id": world.a.org.id,
        "parameter": "force",  # a process parameter of supplier A's part
    }


# Columns the install itself writes while the test runs (the checks lane's bookmark of a
# live check, a token's last use): compared, they would blame supplier B for them. The
# live checks' settings (on/off, rules, rate, baseline) are still compared.
WRITTEN_BY_THE_INSTALL = {
    "live_checks": {
        "pending",
        "pending_since",
        "late_from_us",
        "checked_at",
        "state",
        "last_error",
    },
}


def snapshot(store: Store, org_id: str) -> dict[str, list[Any]]:
    out = {}
    with store.engine.connect() as conn:
        for name, col in OWNED.items():
            table = t.metadata.tables[name]
            cols = [
                c
                for c in table.c
                if c.name not in WRITTEN_BY_THE_INSTALL.get(name, {"last_used_at"})
            ]
            rows = conn.execute(select(*cols).where(table.c[col] == org_id)).all()
            out[name] = sorted(repr(tuple(r)) for r in rows)
        mine = select(t.sensor_channels.c.key).where(t.sensor_channels.c.org_id == org_id)
        readings = select(t.sensor_readings).where(t.sensor_readings.c.channel_key.in_(mine))
        out["readings"] = sorted(repr(tuple(r)) for r in conn.execute(readings).all())
    return out


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].split("/")[-1]]
    return schema


def _value(name: str, schema: dict[str, Any], ids: dict[str, str]) -> Any:
    if name in ids:
        return ids[name]
    kinds = {s.get("type") for s in schema.get("anyOf", [schema])}
    fmt = {s.get("format") for s in schema.get("anyOf", [schema])}
    if "date-time" in fmt:
        return "2026-01-01T00:00:00Z"
    if "array" in kinds:
        return [{"time": "2026-01-01T00:00:00Z", "value": 1.0}]
    if "object" in kinds:
        return {"force": 1.0}
    if "integer" in kinds or "number" in kinds:
        return 1
    if "boolean" in kinds:
        return False
    choices = {
        "role": "viewer",
        "kind": "supplier",
        "decision": "accept",
        "scope": "inspection_records",
        "on_error": "skip",
        "code": "probe",
        "slug": "probe-org",
    }
    return choices.get(name, "probe")


def build_body(spec: dict[str, Any], op: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    content = op.get("requestBody", {}).get("content", {})
    if "application/json" in content:
        schema = _resolve(spec, content["application/json"]["schema"])
        props = schema.get("properties", {})
        wanted = set(schema.get("required", [])) | {p for p in props if p.endswith("_id")}
        return {"json": {p: _value(p, props[p], ids) for p in wanted}}
    if "multipart/form-data" in content:
        schema = _resolve(spec, content["multipart/form-data"]["schema"])
        files, data = {}, {}
        for p, s in schema.get("properties", {}).items():
            if s.get("format") == "binary" or s.get("contentMediaType"):
                files[p] = (
                    ("probe.png", png_bytes(), "image/png")
                    if p == "image"
                    else (
                        "probe.csv",
                        b"asset,channel,time,value\npress,vib,2026-01-01T00:00:00Z,1\n",
                        "text/csv",
                    )
                )
            elif p == "schema":
                data[p] = json.dumps({"parameters": {"force": {"unit": "kN"}}})
            else:
                data[p] = _value(p, s, ids)
        return {"files": files, "data": data}
    return {}


def test_no_route_lets_one_supplier_reach_another(client, store: Store, world: World) -> None:  # type: ignore[no-untyped-def]
    spec = client.get("/openapi.json").json()
    ids = foreign_ids(world)
    a_ids = set(world.a.ids.values()) - {world.oem.org.id}
    before = snapshot(store, world.a.org.id)
    checked = 0
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            params = [p for p in op.get("parameters", []) if p["in"] == "path"]
            unknown = [p["name"] for p in params if p["name"] not in ids]
            assert not unknown, (
                f"{method.upper()} {path}: teach this test the parameter(s) {unknown}"
            )
            url = path.format(**{p["name"]: ids[p["name"]] for p in params})
            query = {
                p["name"]: ids[p["name"]]
                for p in op.get("parameters", [])
                if p["in"] == "query" and p["name"] in ids
            }
            kwargs = build_body(spec, op, ids)
            resp = client.request(
                method.upper(), url, params=query, headers=world.b.auth("admin"), **kwargs
            )
            text = resp.text
            sent = f"{url} {query} {kwargs.get('json')} {kwargs.get('data')}"
            leaked = [i for i in a_ids if i in text and (resp.status_code < 400 or i not in sent)]
            where = f"{method.upper()} {path} -> {resp.status_code} {text[:300]}"
            assert not leaked, f"supplier A's ids leaked to B: {where}"
            if params or any(
                k.endswith("_id") and k not in ("grantee_org_id",)
                for k in kwargs.get("json", {}) | kwargs.get("data", {})
            ):
                # the API between installs answers 401 to anything not signed by a partner
                allowed = (401, 403, 404, 422) if path.startswith("/peer/") else (403, 404, 422)
                assert resp.status_code in allowed, where
            if resp.status_code >= 400:
                assert resp.headers["content-type"].startswith("application/problem+json"), where
            checked += 1
    assert checked >= 40
    assert snapshot(store, world.a.org.id) == before, "supplier B changed supplier A's data"


def test_a_guessed_id_gets_the_same_answer_as_a_foreign_one(client, world: World) -> None:  # type: ignore[no-untyped-def]
    foreign = client.get(f"/api/lines/{world.a.ids['line']}", headers=world.b.auth())
    missing = client.get("/api/lines/0123456789abcdef0123456789abcdef", headers=world.b.auth())
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["title"] == missing.json()["title"]


def test_oem_reads_supplier_data_only_through_a_grant_and_is_audited(client, world: World) -> None:  # type: ignore[no-untyped-def]
    oem = world.oem.auth("viewer")
    listed = client.get("/api/inspections", headers=oem).json()["items"]
    assert [i["id"] for i in listed] == [world.a.ids["inspection"]]
    assert (
        client.get(f"/api/inspections/{world.b.ids['inspection']}", headers=oem).status_code == 404
    )
    assert (
        client.get(f"/api/process-records/{world.a.ids['process_record']}", headers=oem).status_code
        == 404
    )
    image = client.get(f"/api/blobs/{world.a.ids['blob']}", headers=oem)
    assert image.status_code == 200 and image.content == png_bytes(value=100)
    events = client.get(
        "/api/audit-events",
        params={"action": "read_shared", "limit": 100},
        headers=world.a.auth("admin"),
    ).json()["items"]
    assert len(events) >= 2
    assert all(
        e["actor_org_id"] == world.oem.org.id and e["grant_id"] == world.a.ids["grant"]
        for e in events
    )
