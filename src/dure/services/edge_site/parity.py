"""Parity reports from edge boxes: what a box made of its package's golden set.

When a box loads a package that carries a golden set, it scores those images with the
model as it runs on the box and compares them with what the site recorded when it built
the package (``models.vision.parity.compare``). It posts the short form here, signed with
its key like its results; the site keeps the last report per box (``edge_devices.parity``,
audited), and the device list shows parity ✓/✗ with the drift and the likely cause.
"""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any

from dure.domain.alerts import AlertKind
from dure.domain.users import Caller, Role
from dure.errors import Forbidden, InvalidInput
from dure.services.alerts.raising import raise_alert
from dure.services.edge_site.context import EdgeSite
from dure.services.edge_site.results import verify_post

PARITY_PATH = "/api/edge/v1/parity"
MAX_BODY = 64_000
STATUSES = ("ok", "mismatch", "error")
DRIFTS = ("max_score_drift", "max_relative_score_drift", "max_map_drift")
MAX_NAMES = 32


def receive_parity(
    site: EdgeSite,
    caller: Caller,
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes,
) -> dict[str, Any]:
    """Verify a box's signed parity report and keep it as the box's latest; the report as
    kept. The package must be one this site built for the caller's organisation."""
    if not caller.can(Role.OPERATOR):
        raise Forbidden(
            f"posting edge parity needs the operator role or higher; you are {caller.role.value}"
        )
    if len(body) > MAX_BODY:
        raise InvalidInput("body", f"a parity report is at most {MAX_BODY} bytes")
    device = verify_post(site, caller, method, path, headers, body)
    report = parse_report(body, device.id)
    with site.store.session(caller) as session:
        if session.edge_packages.own_package(report["package_id"]) is None:
            raise InvalidInput("package_id", "is not an edge package of this site")
        session.edge_devices.keep_parity(device.id, report)
        if report["status"] != "ok":
            raise_alert(
                session,
                AlertKind.PARITY,
                device.id,
                f"edge parity {report['status']}",
                f"edge box {device.name}: package {report['package_id']} scores its golden "
                f"set differently on the box ({report['status']}): "
                f"{report.get('cause') or 'no cause given'}",
                "critical",
                "/models",
            )
    return report


def parse_report(body: bytes, edge_id: str) -> dict[str, Any]:
    """The report's fields, each checked (InvalidInput naming the field otherwise)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput("body", "is not JSON") from exc
    if not isinstance(data, dict):
        raise InvalidInput("body", "must be an object")
    if data.get("edge_id") != edge_id:
        raise InvalidInput("edge_id", "must be the id of the box that signed the post")
    out: dict[str, Any] = {"package_id": _text(data, "package_id", 32, required=True)}
    status = data.get("status")
    if status not in STATUSES:
        raise InvalidInput("status", f"must be one of {', '.join(STATUSES)}")
    out["status"] = status
    for name in DRIFTS:
        value = data.get(name)
        if value is None:
            out[name] = None
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(name, "must be a number")
        if not math.isfinite(value) or value < 0:
            raise InvalidInput(name, "must be a finite number ≥ 0")
        out[name] = float(value)
    images = data.get("images", 0)
    if isinstance(images, bool) or not isinstance(images, int) or not 0 <= images <= 1000:
        raise InvalidInput("images", "must be a whole number from 0 to 1000")
    out["images"] = images
    out["cause"] = _text(data, "cause", 1000)
    differing = data.get("differing") or []
    if not isinstance(differing, list) or len(differing) > MAX_NAMES:
        raise InvalidInput("differing", f"must be a list of at most {MAX_NAMES} image names")
    for i, name in enumerate(differing):
        if not isinstance(name, str) or len(name) > 200:
            raise InvalidInput(f"differing[{i}]", "must be an image name of ≤ 200 characters")
    out["differing"] = differing
    checked = _text(data, "checked_at", 40, required=True)
    try:
        datetime.fromisoformat(checked)
    except ValueError as exc:
        raise InvalidInput("checked_at", "must be an ISO 8601 time") from exc
    out["checked_at"] = checked
    env = data.get("environment") or {}
    if not isinstance(env, dict) or len(env) > 10:
        raise InvalidInput("environment", "must be an object of at most 10 versions")
    for key, value in env.items():
        if not isinstance(value, str) or len(key) > 40 or len(value) > 80:
            raise InvalidInput(f"environment.{key}"[:60], "must be a short version string")
    out["environment"] = env
    return out


def _text(data: dict[str, Any], name: str, limit: int, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > limit:
        raise InvalidInput(name, f"must be a text of 1 to {limit} characters")
    return value
