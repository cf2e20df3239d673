"""`dure testbed`: an OEM and three suppliers as separate installs, one full collaboration cycle.

Each install is its own `dure up` process with its own data folder and SQLite store, on
loopback. Every byte one install sends another passes a recording relay (`wiretap`), so
the run can show what crossed — and fail if image bytes, pixel data or process records
did. The cycle: link, grant, publish, verify, adapt, inspect, report KPIs, one federated
round (Flower), publish v2; then the refusals: tampered package, wrong signer, revoked
grant, expired token, replayed request.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from dure.bench.wiretap import Wiretap
from dure.collab.packages import build_package, new_signing_key
from dure.collab.signing import sign_request
from dure.ports import free_port
from dure.services.demo.sheet_metal import sheet_image
from dure.settings import child_environment

PART = ("HB-DOOR-01", "Refrigerator door outer panel")
TYPES = ("scratch", "dent", "crack", "rust")
# Which defect types each supplier sees most: a non-IID spread, as on real lines.
SUPPLIER_TYPES = {"daesung": ("scratch", "dent"), "mirae": ("crack", "rust"), "hanul": TYPES}


@dataclass
class Install:
    """One company's install: its process, its own port, the relay others reach it by."""

    slug: str
    name: str
    kind: str
    home: Path
    port: int
    public_port: int
    token: str = ""
    org_id: str = ""
    part_id: str = ""
    proc: subprocess.Popen[bytes] | None = None
    tap: Wiretap | None = None
    images: list[np.ndarray] = field(default_factory=list)
    serials: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def call(
        self, method: str, path: str, expect: int | tuple[int, ...] = (200, 201, 202), **kw: Any
    ) -> Any:
        """Call our own install's API as its admin; raise with its words if unexpected."""
        response = httpx.request(
            method,
            self.url + path,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=600,
            **kw,
        )
        wanted = (expect,) if isinstance(expect, int) else expect
        if response.status_code not in wanted:
            raise RuntimeError(
                f"{self.slug}: {method} {path} -> {response.status_code} {response.text[:600]}"
            )
        ctype = response.headers.get("content-type", "")
        return response.json() if "json" in ctype else response.content


def _png(image: np.ndarray) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.fromarray(image).save(out, "PNG")
    return out.getvalue()


def _setup(install: Install) -> None:
    """Create the company's organisation and admin in its own store (before serving)."""
    from dure.services.platform.accounts import create_org, create_token, create_user, system_caller
    from dure.settings import Settings
    from dure.store.session import Store

    store = Store.open(Settings(home=install.home))
    with store.system() as s:
        org = create_org(s, install.name, install.kind, install.slug)
    with store.session(system_caller(org)) as s:
        user = create_user(s, f"admin@{install.slug}.example", "Admin", "admin")
        _, secret = create_token(s, user, "testbed")
    install.org_id, install.token = org.id, secret
    store.engine.dispose()


def _serve(install: Install, env: dict[str, str], log_dir: Path) -> None:
    environment = child_environment(
        {
            "DURE_HOME": str(install.home),
            "DURE_PUBLIC_URL": f"http://127.0.0.1:{install.public_port}",
            # the installs of the test bed reach each other on loopback
            "DURE_ALLOW_PRIVATE_ADDRESSES": "true",
            **env,
        }
    )
    log = (log_dir / f"{install.slug}.log").open("wb")
    install.proc = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("dure")),
            "up",
            "--no-demo",
            "--port",
            str(install.port),
        ],
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    install.tap = Wiretap(install.slug, install.public_port, install.port).start()


def _wait_up(install: Install, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if httpx.get(install.url + "/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if install.proc is not None and install.proc.poll() is not None:
            raise RuntimeError(f"{install.slug} exited with {install.proc.returncode}")
        time.sleep(0.5)
    raise RuntimeError(f"{install.slug} did not start in {timeout} s")


def _upload(install: Install, images: list[np.ndarray], label: str, names: str) -> None:
    files = [("images", (f"{names}-{i}.png", _png(im), "image/png")) for i, im in enumerate(images)]
    install.call("POST", f"/api/parts/{install.part_id}/images", files=files, data={"label": label})
    install.images += images


def _images(seed: int, label: str, n: int, size: int) -> list[np.ndarray]:
    return [np.asarray(sheet_image(seed + i, label, size).pixels) for i in range(n)]


def _process_csv(install: Install, rows: int, rng: np.random.Generator) -> bytes:
    out = io.StringIO()
    out.write("part,time,serial,press_force_kN,die_temp_C\n")
    start = datetime(2026, 11, 1, tzinfo=UTC)
    for i in range(rows):
        serial = f"{install.slug.upper()}-SN{i:06d}"
        install.serials.append(serial)
        out.write(
            f"{PART[0]},{(start + timedelta(minutes=7 * i)).isoformat()},{serial},"
            f"{rng.normal(100, 4):.3f},{rng.normal(180, 3):.3f}\n"
        )
    return out.getvalue().encode()


def _wait(predicate: Any, what: str, timeout: float = 600) -> Any:
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1)
    raise RuntimeError(f"timed out waiting for {what}")


def _finished(job: dict[str, Any]) -> dict[str, Any] | None:
    return job if job["status"] in ("succeeded", "failed") else None


def run_testbed(out_dir: Path, image_size: int = 96, rounds: int = 5) -> dict[str, Any]:
    """Run the whole cycle; returns (and writes to ``out_dir``) what happened and crossed."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    installs = [
        Install("hanbit", "Hanbit Appliances", "oem", out_dir / "hanbit", free_port(), free_port()),
        *[
            Install(slug, name, "supplier", out_dir / slug, free_port(), free_port())
            for slug, name in (
                ("daesung", "Daesung Press"),
                ("mirae", "Mirae Metal"),
                ("hanul", "Hanul Stamping"),
            )
        ],
    ]
    oem, suppliers = installs[0], installs[1:]
    flower_port, flower_public = free_port(), free_port()
    flower_tap = Wiretap("flower", flower_public, flower_port).start()
    steps: dict[str, Any] = {}
    try:
        for install in installs:
            _setup(install)
            env = {}
            if install is oem:
                env = {
                    "DURE_FLOWER_PORT": str(flower_port),
                    "DURE_FLOWER_ADVERTISE": f"127.0.0.1:{flower_public}",
                }
            _serve(install, env, out_dir)
        for install in installs:
            _wait_up(install)
        steps["installs"] = {i.slug: {"org_id": i.org_id, "port": i.port} for i in installs}

        # --- each company's own data, at home -------------------------------------------
        for k, install in enumerate(installs):
            install.part_id = install.call(
                "POST", "/api/parts", json={"number": PART[0], "name": PART[1]}
            )["id"]
            base = 1000 * (k + 1)
            _upload(
                install,
                _images(base, "good", 16 if install is oem else 24, image_size),
                "good",
                "good",
            )
            if install is oem:
                for code in TYPES:
                    install.call("POST", "/api/defect-types", json={"code": code, "name": code})
                    _upload(
                        install,
                        _images(base + 100 + 10 * TYPES.index(code), code, 4, image_size),
                        code,
                        code,
                    )
            else:
                csv = _process_csv(install, 60, rng)
                install.call(
                    "POST",
                    "/api/imports/process-records",
                    files={"file": ("process.csv", csv, "text/csv")},
                    data={
                        "schema": json.dumps(
                            {
                                "parameters": {
                                    "press_force_kN": {"unit": "kN"},
                                    "die_temp_C": {"unit": "°C"},
                                }
                            }
                        )
                    },
                )

        # --- the OEM teaches v1 -------------------------------------------------------------
        model = oem.call(
            "POST",
            "/api/inspection-models",
            json={"part_id": oem.part_id, "image_size": image_size},
        )
        job = oem.call("POST", f"/api/inspection-models/{model['id']}/train")
        _wait(lambda: _finished(oem.call("GET", f"/api/jobs/{job['id']}")), "training v1")
        v1 = oem.call("GET", f"/api/inspection-models/{model['id']}")
        if v1["status"] != "ready":
            raise RuntimeError(
                f"v1 did not train: {oem.call('GET', f'/api/jobs/{job[chr(105) + chr(100)]}')}"
            )

        # --- link, grant ------------------------------------------------------------------
        for sup in suppliers:
            invitation = oem.call("POST", "/api/partners/invitations", json={})
            sup.call("POST", "/api/partners", json={"invitation": invitation["invitation"]})
            oem.call(
                "POST",
                "/api/grants",
                json={"grantee_org_id": sup.org_id, "scope": "model_use", "part_id": oem.part_id},
            )
            for scope in ("kpi_reports", "model_updates"):
                sup.call(
                    "POST",
                    "/api/grants",
                    json={"grantee_org_id": oem.org_id, "scope": scope, "part_id": sup.part_id},
                )
        package = oem.call("POST", f"/api/model-versions/{v1['id']}/publish")
        steps["published_v1"] = package["id"]

        # --- verify, import, adapt, inspect, report -----------------------------------------
        partner_of = {}
        for k, sup in enumerate(suppliers):
            partner_of[sup.slug] = sup.call("GET", "/api/partners")[0]["id"]
            synced = sup.call("POST", f"/api/partners/{partner_of[sup.slug]}/sync")
            if len(synced["imported"]) != 1:
                raise RuntimeError(f"{sup.slug} did not import v1: {synced}")
            for code in SUPPLIER_TYPES[sup.slug]:
                _upload(
                    sup,
                    _images(9000 + 100 * k + 10 * TYPES.index(code), code, 5, image_size),
                    code,
                    code,
                )
            imported = [
                m
                for m in sup.call("GET", "/api/model-versions")["items"]
                if m["card"].get("package")
            ][0]
            queued = sup.call(
                "POST", f"/api/model-versions/{imported['id']}/adapt", json={"refit_memory": k == 0}
            )
            job = _wait(
                lambda s=sup, j=queued["id"]: _finished(s.call("GET", f"/api/jobs/{j}")),
                f"{sup.slug}'s adaptation",
            )
            if job["status"] != "succeeded":
                raise RuntimeError(f"{sup.slug} could not adapt v1: {job['error']}")
            adapted = sup.call("GET", f"/api/model-versions/{job['result']['model_version_id']}")
            steps.setdefault("adapted", {})[sup.slug] = {
                "version": adapted["id"],
                "base": adapted["base_version_id"],
                "before": adapted["card"]["adaptation"]["before"],
                "after": adapted["card"]["adaptation"]["after"],
            }
            taken = datetime(2026, 11, 20, 8, tzinfo=UTC)
            for i in range(24):
                label = "good" if i % 4 else SUPPLIER_TYPES[sup.slug][0]
                image = _images(20000 + 100 * k + i, label, 1, image_size)[0]
                sup.images.append(image)
                sup.call(
                    "POST",
                    f"/api/inspection-models/{adapted['id']}/inspect",
                    files={"image": (f"part-{i}.png", _png(image), "image/png")},
                    data={
                        "serial": f"{sup.slug.upper()}-SN{i:06d}",
                        "taken_at": (taken + timedelta(minutes=i)).isoformat(),
                    },
                )
            report = sup.call(
                "POST",
                "/api/kpi-reports",
                json={
                    "part_id": sup.part_id,
                    "period_start": "2026-11-01T00:00:00Z",
                    "period_end": "2026-11-30T00:00:00Z",
                    "key_parameters": [{"name": "press_force_kN", "lsl": 85, "usl": 115}],
                    "send_to": oem.org_id,
                },
            )
            steps.setdefault("kpi_reports", {})[sup.slug] = report["figures"]
        steps["scorecard"] = oem.call("GET", f"/api/scorecard?part_id={oem.part_id}")

        # --- one federated round, v2 published, suppliers pick it up -----------------------
        round_ = oem.call(
            "POST", "/api/federated-rounds", json={"model_version_id": v1["id"], "rounds": rounds}
        )
        done = _wait(
            lambda: (
                (r := oem.call("GET", f"/api/federated-rounds/{round_['id']}"))["status"]
                != "running"
                and r
            ),
            "the federated round",
        )
        if done["status"] != "done":
            raise RuntimeError(f"federated round failed: {done}")
        steps["federated_round"] = {
            k: done[k] for k in ("id", "participants", "new_version_id", "outcome")
        }
        for sup in suppliers:
            synced = sup.call("POST", f"/api/partners/{partner_of[sup.slug]}/sync")
            steps.setdefault("v2_imported", {})[sup.slug] = synced["imported"]

        steps["refusals"] = _refusals(oem, suppliers, partner_of, package["id"])
    finally:
        stop_installs(installs)
        flower_tap.stop()
    taps = [i.tap.tap for i in installs if i.tap] + [flower_tap.tap]
    steps["crossed"] = crossing_report(taps, installs)
    (out_dir / "testbed.json").write_text(json.dumps(steps, indent=2, default=str))
    return steps


def stop_installs(installs: list[Install]) -> None:
    """Stop each install's server (SIGTERM, then SIGKILL after 20 s) and its wiretap."""
    for install in installs:
        if install.proc is not None:
            install.proc.terminate()
    for install in installs:
        if install.proc is not None:
            try:
                install.proc.wait(20)
            except subprocess.TimeoutExpired:
                install.proc.kill()
        if install.tap is not None:
            install.tap.stop()


def _refusals(
    oem: Install, suppliers: list[Install], partner_of: dict[str, str], package_id: str
) -> dict[str, Any]:
    """Each attack refused with a clear error, and an audit event to show for it."""
    sup = suppliers[0]
    out: dict[str, Any] = {}
    key = (sup.home / "keys" / f"{sup.org_id}.ed25519.pem").read_bytes()
    token = _outbound_token(sup, oem.org_id)
    # a wrong signer: a package claiming to be the OEM's, signed with a stranger's key
    private, _ = new_signing_key()
    stranger = build_package(
        b"weights" * 100,
        {
            "name": "x",
            "version": 1,
            "package_id": "p1",
            "task": "visual-inspection",
            "part_number": PART[0],
        },
        oem.org_id,
        private,
    )
    # a tampered package: the OEM's genuine v1 package with one byte of its weights changed
    path = f"/peer/v1/packages/{package_id}"
    headers = sign_request(key, "GET", path, sup.org_id, oem.org_id, b"")
    headers["Authorization"] = f"Bearer {token}"
    genuine = httpx.get(f"http://127.0.0.1:{oem.public_port}{path}", headers=headers, timeout=60)
    genuine.raise_for_status()
    with tarfile.open(fileobj=io.BytesIO(genuine.content)) as tar:
        members = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]
    body = bytearray(members["model.bin"])
    body[len(body) // 2] ^= 0x01
    members["model.bin"] = bytes(body)
    tampered = io.BytesIO()
    with tarfile.open(fileobj=tampered, mode="w") as tar:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    for name, blob in (("wrong_signer", stranger), ("tampered", tampered.getvalue())):
        response = httpx.post(
            sup.url + "/api/packages/import",
            content=blob,
            headers={"Authorization": f"Bearer {sup.token}"},
            timeout=60,
        )
        out[name] = {"status": response.status_code, "detail": response.json().get("detail")}
    # a revoked grant: the supplier withdraws its KPI grant, then tries to send a report
    grant = [
        g
        for g in sup.call("GET", "/api/grants")["items"]
        if g["scope"] == "kpi_reports" and g["grantor_org_id"] == sup.org_id
    ][0]
    sup.call("DELETE", f"/api/grants/{grant['id']}")
    report = sup.call("GET", "/api/kpi-reports")["items"][0]
    response = httpx.post(
        sup.url + f"/api/kpi-reports/{report['id']}/send",
        json={"to": oem.org_id},
        headers={"Authorization": f"Bearer {sup.token}"},
        timeout=60,
    )
    out["revoked_grant"] = {"status": response.status_code, "detail": response.json().get("detail")}
    # a replayed request: the same signed request sent twice to the OEM
    headers = sign_request(key, "GET", "/peer/v1/packages", sup.org_id, oem.org_id, b"")
    headers["Authorization"] = f"Bearer {token}"
    first = httpx.get(f"http://127.0.0.1:{oem.public_port}/peer/v1/packages", headers=headers)
    again = httpx.get(f"http://127.0.0.1:{oem.public_port}/peer/v1/packages", headers=headers)
    out["replayed"] = {
        "first": first.status_code,
        "status": again.status_code,
        "detail": again.json().get("detail"),
    }
    # an expired partner token: the OEM's admin lets the supplier's token lapse
    _expire_token(oem, sup.org_id)
    response = httpx.post(
        sup.url + f"/api/partners/{partner_of[sup.slug]}/sync",
        headers={"Authorization": f"Bearer {sup.token}"},
        timeout=60,
    )
    out["expired_token"] = {"status": response.status_code, "detail": response.json().get("detail")}
    out["audit_oem"] = [
        {
            "action": e["action"],
            "resource": e["resource"],
            "id": e["id"],
            "reason": e["detail"].get("reason"),
        }
        for e in oem.call("GET", "/api/audit-events?action=refuse")["items"]
    ]
    out["audit_supplier"] = [
        {
            "action": e["action"],
            "resource": e["resource"],
            "id": e["id"],
            "reason": e["detail"].get("reason"),
        }
        for e in sup.call("GET", "/api/audit-events?action=refuse")["items"]
    ]
    return out


def _db(install: Install) -> Any:
    import sqlite3

    return sqlite3.connect(install.home / "dure.sqlite")


def _outbound_token(install: Install, partner_org_id: str) -> str:
    with _db(install) as conn:
        return str(
            conn.execute(
                "select outbound_token from partners where partner_org_id=?", (partner_org_id,)
            ).fetchone()[0]
        )


def _expire_token(install: Install, partner_org_id: str) -> None:
    with _db(install) as conn:
        conn.execute(
            "update partners set inbound_expires_at=? where partner_org_id=?",
            ("2020-01-01 00:00:00.000000", partner_org_id),
        )


REQUEST_LINE = re.compile(rb"(GET|POST|PUT|PATCH|DELETE) (/[^ ]*) HTTP/1\.1")


def crossing_report(taps: list[Any], installs: list[Install]) -> dict[str, Any]:
    """What crossed between installs, and whether any image, pixel or process record did."""
    everything = b"".join(t.outbound() + t.inbound() for t in taps)
    found: list[str] = []
    for magic, what in ((b"\x89PNG\r\n\x1a\n", "PNG file"), (b"\xff\xd8\xff", "JPEG file")):
        if magic in everything:
            found.append(what)
    for install in installs:
        for n, image in enumerate(install.images):
            raw = np.ascontiguousarray(image).tobytes()
            step = max(len(raw) // 8, 64)
            for start in range(0, len(raw) - 64, step):
                if raw[start : start + 64] in everything:
                    found.append(f"pixels of {install.slug} image {n}")
                    break
        for serial in install.serials:
            if serial.encode() in everything:
                found.append(f"process record {serial} of {install.slug}")
                break
    per_link = {}
    for tap in taps:
        paths: dict[str, int] = {}
        for match in REQUEST_LINE.finditer(tap.outbound()):
            path = re.sub(rb"/[0-9a-f]{32}", b"/{id}", match.group(2)).decode()
            key = f"{match.group(1).decode()} {path}"
            paths[key] = paths.get(key, 0) + 1
        per_link[tap.name] = {
            "connections": tap.connections,
            "bytes_to": len(tap.outbound()),
            "bytes_back": len(tap.inbound()),
            "requests": paths,
        }
    return {"forbidden_found": found, "links": per_link, "total_bytes": len(everything)}
