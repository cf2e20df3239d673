"""KPI reports: a supplier's quality aggregates for a part and period, sent to its OEM.

Only aggregates leave: counts, defects by type, ppm, first-pass yield, Cpk of named key
parameters and a drift score. Sending needs the supplier's KPI_REPORTS grant for the part;
the OEM's install accepts a report only under its mirror of that grant, and its scorecard
is built from these reports alone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np

from dure.domain.collab import KpiReport
from dure.domain.grants import GrantScope
from dure.domain.ids import utcnow
from dure.domain.records import is_defective
from dure.domain.times import as_utc
from dure.domain.users import Caller, Role
from dure.errors import Forbidden, InvalidInput, NotFound
from dure.models.spc.capability import capability
from dure.services.collaboration.context import Collab, audit_refusal
from dure.services.collaboration.kpi_report_checks import check_figures
from dure.services.collaboration.parity import part_parity
from dure.store.session import Session

DRIFT_FLAG = 0.25  # population stability index above which scores have shifted


def drift_bins(n_reference: int | None) -> int:
    """How many equal-share bins a reference of ``n_reference`` scores supports (10, 5, 2).

    Deciles of ten scores are noise: with fewer than 50 reference scores the bins are
    quintiles, with fewer than 25 the median alone.
    """
    if n_reference is None or n_reference >= 50:
        return 10
    return 5 if n_reference >= 25 else 2


def drift_psi(ratios: np.ndarray, deciles: list[float], n_reference: int | None = None) -> float:
    """Population stability index of score/threshold ratios against the reference deciles.

    Each bin is expected to hold an equal share; the observed shares get half a count
    added, so an empty bin weighs as a rare one rather than an infinite shift.
    """
    bins = drift_bins(n_reference)
    edges = np.asarray(deciles, dtype=np.float64)[:: 10 // bins]
    inner = edges[1:-1]
    counts = np.bincount(np.searchsorted(inner, ratios, side="right"), minlength=bins)
    actual = (counts + 0.5) / (max(len(ratios), 1) + 0.5 * bins)
    expected = np.full(bins, 1.0 / bins)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def compute_report(
    session: Session,
    part_id: str,
    start: datetime,
    end: datetime,
    key_parameters: list[dict[str, Any]] | None = None,
) -> KpiReport:
    """Aggregate our inspections (and process records) of one part in [start, end)."""
    start, end = as_utc(start), as_utc(end)
    if end <= start:
        raise InvalidInput("period_end", "must be after period_start")
    part = session.parts.get(part_id)
    if part.org_id != session.caller.org_id:
        raise Forbidden("KPI reports are about your own parts")
    rows = session.inspections.own_between(start, end, part_id=part_id)
    defects: dict[str, int] = {}
    first_by_serial: dict[str, bool] = {}
    n_defect = 0
    ratios = []
    models: dict[str, Any] = {}
    for row in rows:
        bad = is_defective(row.verdict, row.review_decision)
        n_defect += bad
        if bad:
            kind = row.defect_type or "unknown"
            defects[kind] = defects.get(kind, 0) + 1
        key = row.serial or row.id
        first_by_serial.setdefault(key, not bad)
        if row.score is not None and row.model_version_id:
            if row.model_version_id not in models:
                try:
                    models[row.model_version_id] = session.model_versions.get(row.model_version_id)
                except NotFound:
                    models[row.model_version_id] = None
            model = models[row.model_version_id]
            threshold = ((model.card.get("threshold") or {}) if model else {}).get("value")
            if threshold:
                ratios.append(row.score / threshold)
    inspected = len(rows)
    figures: dict[str, Any] = {
        "inspected": inspected,
        "defective": n_defect,
        "defects_by_type": dict(sorted(defects.items())),
        "ppm": round(1e6 * n_defect / inspected, 1) if inspected else None,
        "first_pass_yield": (
            round(sum(first_by_serial.values()) / len(first_by_serial), 5)
            if first_by_serial
            else None
        ),
        "capability": _capabilities(session, part_id, start, end, key_parameters or []),
        "drift": _drift(models, ratios),
        # deployment parity of the shared models we run for this part (status and drift)
        "parity": part_parity(session, part_id),
    }
    return KpiReport(
        org_id=session.caller.org_id,
        part_id=part_id,
        part_number=part.number,
        period_start=start,
        period_end=end,
        figures=figures,
    )


def _drift(models: dict[str, Any], ratios: list[float]) -> dict[str, Any]:
    reference = None
    for model in models.values():
        if model is not None and (model.card.get("reference_scores") or {}).get("deciles"):
            reference = model.card["reference_scores"]
    if reference is None or len(ratios) < 20:
        return {"psi": None, "flag": False, "why": "needs 20+ scored parts and a reference"}
    n_reference = reference.get("n")
    psi = drift_psi(np.asarray(ratios), reference["deciles"], n_reference)
    return {
        "psi": round(psi, 4),
        "flag": psi > DRIFT_FLAG,
        "scored": len(ratios),
        "bins": drift_bins(n_reference),
        "reference_scores": n_reference,
        "limit": DRIFT_FLAG,
    }


def _capabilities(
    session: Session, part_id: str, start: datetime, end: datetime, keys: list[dict[str, Any]]
) -> dict[str, Any]:
    if not keys:
        return {}
    records = session.process_records.own_between(start, end, part_id=part_id)
    out: dict[str, Any] = {}
    for i, key in enumerate(keys):
        name = key.get("name")
        if not isinstance(name, str):
            raise InvalidInput(f"key_parameters.{i}.name", "name the process parameter")
        lsl, usl = key.get("lsl"), key.get("usl")
        if lsl is None and usl is None:
            raise InvalidInput(f"key_parameters.{i}", "give lsl, usl or both")
        values = np.array(
            [r.values[name] for r in records if r.values.get(name) is not None], float
        )
        values = values[np.isfinite(values)]
        if len(values) < 2:
            out[name] = {"cpk": None, "n": int(len(values)), "why": "fewer than two values"}
            continue
        cap = capability(values, lsl, usl)
        out[name] = {
            "cpk": round(cap.cpk.value, 3),
            "ppk": round(cap.ppk.value, 3),
            "n": cap.n,
            "lsl": lsl,
            "usl": usl,
        }
    return out


def create_report(
    ctx: Collab,
    caller: Caller,
    part_id: str,
    start: datetime,
    end: datetime,
    key_parameters: list[dict[str, Any]] | None = None,
    send_to: str | None = None,
) -> KpiReport:
    """Compute and keep a report; with ``send_to`` (an OEM partner) send it under a grant."""
    if not caller.can(Role.ENGINEER):
        raise Forbidden("KPI reports need the engineer role or higher")
    with ctx.store.session(caller) as session:
        report = compute_report(session, part_id, start, end, key_parameters)
        session.kpi_reports.add(report)
    if send_to:
        report = send_report(ctx, caller, report.id, send_to)
    return report


def send_report(ctx: Collab, caller: Caller, report_id: str, oem_org_id: str) -> KpiReport:
    """Send one of our reports to a partner; refused (and audited) without a KPI grant."""
    with ctx.store.session(caller) as session:
        report = session.kpi_reports.get(report_id)
        partner = session.partners.by_partner_org(oem_org_id)
        grant = next(
            (
                g
                for g in session.grants.given_in_force(oem_org_id, GrantScope.KPI_REPORTS)
                if g.part_id in (None, report.part_id)
            ),
            None,
        )
    if grant is None:
        reason = f"no active KPI_REPORTS grant to {oem_org_id} for part {report.part_number}"
        audit_refusal(ctx.store, caller.org_id, "kpi_report", reason, {"report": report_id})
        raise Forbidden(reason)
    ctx.client(partner).post(
        "/peer/v1/kpi-reports",
        {
            "id": report.id,
            "part_number": report.part_number,
            "period_start": report.period_start.isoformat(),
            "period_end": report.period_end.isoformat(),
            "figures": report.figures,
            "grant_id": grant.id,
        },
    )
    with ctx.store.session(caller) as session:
        session.audit.record(
            "send", "kpi_report", report.id, grant_id=grant.id, detail={"to": oem_org_id}
        )
        return session.kpi_reports.update_fields(
            report.id, sent_to_org_id=oem_org_id, sent_at=utcnow(), grant_id=grant.id
        )


def receive_report(session: Session, doc: dict[str, Any]) -> KpiReport:
    """The OEM's side: keep a partner's report if its KPI grant (our mirror) is in force."""
    sender = session.caller.org_id
    try:
        part_number = str(doc["part_number"])
        report = KpiReport(
            id=str(doc["id"]),
            org_id=sender,
            part_number=part_number,
            period_start=datetime.fromisoformat(doc["period_start"]),
            period_end=datetime.fromisoformat(doc["period_end"]),
            figures=doc["figures"],
            grant_id=doc.get("grant_id"),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise InvalidInput("report", f"not a KPI report: {exc}") from None
    check_figures(report.figures)  # the scorecard reads them: finite numbers, known shapes
    grant = session.grants.mirror_from_caller(GrantScope.KPI_REPORTS, part_number)
    if grant is None:
        raise Forbidden(f"no KPI_REPORTS grant from you for part {part_number} is in force here")
    report.part_id = grant.part_id
    report.sent_to_org_id = grant.grantee_org_id
    session.kpi_reports.add(report)
    session.audit.record(
        "receive",
        "kpi_report",
        report.id,
        org_id=grant.grantee_org_id,
        grant_id=grant.id,
        detail={"from": sender},
    )
    return report


def _parity_row(parity: dict[str, Any] | None) -> dict[str, Any]:
    """A supplier's parity on the scorecard: status, score drift and the first cause."""
    if not parity:
        return {"status": "not_reported", "max_score_drift": None, "cause": None, "models": 0}
    causes = [m.get("cause") for m in parity.get("models") or [] if m.get("cause")]
    return {
        "status": parity.get("status"),
        "max_score_drift": parity.get("max_score_drift"),
        "cause": causes[0] if causes else None,
        "models": len(parity.get("models") or []),
    }


def scorecard(session: Session, part_id: str | None = None) -> dict[str, Any]:
    """Suppliers ranked by ppm on their latest shared report, with trends and drift flags."""
    if part_id is not None:
        session.parts.get(part_id)  # 404 for a part that is not ours to ask about
    reports = [
        r
        for r in session.kpi_reports.list_all(part_id=part_id)
        if r.org_id != session.caller.org_id
    ]
    by_supplier: dict[str, list[KpiReport]] = {}
    for report in reports:
        by_supplier.setdefault(report.org_id, []).append(report)
    rows = []
    for org_id, items in by_supplier.items():
        items.sort(key=lambda r: r.period_start)
        latest = items[-1].figures
        rows.append(
            {
                "supplier_org_id": org_id,
                "supplier": session.organisations.get(org_id).name,
                "part_number": items[-1].part_number,
                "latest_period": [items[-1].period_start, items[-1].period_end],
                "inspected": latest.get("inspected"),
                "ppm": latest.get("ppm"),
                "first_pass_yield": latest.get("first_pass_yield"),
                "drift_psi": (latest.get("drift") or {}).get("psi"),
                "drift_flag": bool((latest.get("drift") or {}).get("flag")),
                "defects_by_type": latest.get("defects_by_type"),
                "parity": _parity_row(latest.get("parity")),
                "trend": [
                    {
                        "period_start": r.period_start,
                        "ppm": r.figures.get("ppm"),
                        "first_pass_yield": r.figures.get("first_pass_yield"),
                    }
                    for r in items
                ],
                "report_ids": [r.id for r in items],
            }
        )
    rows.sort(key=lambda r: (r["ppm"] is None, r["ppm"] or 0.0))
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    return {
        "part_id": part_id,
        "suppliers": rows,
        "built_from": "KPI reports shared under grants; no records or images",
    }
