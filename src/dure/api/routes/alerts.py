"""Alerts: list, acknowledge, close; where they are sent; SPC checks of a sensor channel."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from dure.api.deps import CallerDep, InstallDep, PageDep, SessionDep
from dure.api.schemas import AlertTargetIn
from dure.domain.alerts import Alert, AlertKind, AlertStatus, AlertTarget
from dure.domain.pages import Listing
from dure.services.alerts.raising import add_target
from dure.services.maintenance.anomaly_checks import check_asset_anomalies
from dure.services.maintenance.spc_checks import check_channel_spc

router = APIRouter(tags=["alerts"])


@router.get("/api/alerts")
def list_alerts(
    session: SessionDep,
    page: PageDep,
    status: AlertStatus | None = None,
    kind: AlertKind | None = None,
    severity: str | None = Query(None, min_length=1, max_length=32),
) -> Listing[Alert]:
    """Your alerts, newest first; filter by status (open, acknowledged, closed), kind
    (spc_rule, predicted_defect, machine_anomaly) and severity (e.g. warning)."""
    return session.alerts.list(
        page,
        status=status.value if status else None,
        kind=kind.value if kind else None,
        severity=severity,
    )


@router.post("/api/alerts/{alert_id}/acknowledge")
def acknowledge_alert(alert_id: str, session: SessionDep) -> Alert:
    """Say someone is on it (operators and up)."""
    return session.alerts.set_status(alert_id, AlertStatus.ACKNOWLEDGED)


@router.post("/api/alerts/{alert_id}/close")
def close_alert(alert_id: str, session: SessionDep) -> Alert:
    """Close an alert; the same problem later opens a new one."""
    return session.alerts.set_status(alert_id, AlertStatus.CLOSED)


@router.get("/api/alert-targets")
def list_alert_targets(session: SessionDep, page: PageDep) -> Listing[AlertTarget]:
    """Where your new alerts are sent."""
    return session.alert_targets.list(page)


@router.post("/api/alert-targets", status_code=201)
def add_alert_target(body: AlertTargetIn, session: SessionDep, install: InstallDep) -> AlertTarget:
    """Send new alerts to a webhook or an MQTT topic (admins)."""
    return add_target(session, body.kind, body.address, install.outbound)


@router.post("/api/channels/{channel_id}/spc-check")
def spc_check(
    channel_id: str,
    install: InstallDep,
    caller: CallerDep,
    baseline: int = Query(100, ge=20, le=100_000),
    recent: int = Query(100, ge=8, le=100_000),
) -> dict[str, Any]:
    """Individuals chart of the channel (limits from its first readings) and Western
    Electric rules on its newest ones; each broken rule raises (or counts) an alert."""
    result = check_channel_spc(
        install.store, caller, channel_id, baseline, recent, outbound=install.outbound
    )
    return {
        "channel_id": result.channel_id,
        "points": result.points,
        "centre": result.centre,
        "limits": [result.lower, result.upper],
        "violations": result.violations,
        "alert_ids": [a.id for a in result.alerts],
        "new_alert_ids": [a.id for a in result.new_alerts],
    }


@router.post("/api/assets/{asset_id}/anomaly-check")
def anomaly_check(
    asset_id: str,
    install: InstallDep,
    caller: CallerDep,
    baseline: int = Query(500, ge=20, le=1_000_000),
    recent: int = Query(200, ge=1, le=1_000_000),
) -> dict[str, Any]:
    """Learn the machine's normal from its first readings, score its newest ones per
    channel and across channels; anomalies raise (or count) alerts."""
    result = check_asset_anomalies(
        install.store, caller, asset_id, baseline, recent, outbound=install.outbound
    )
    return {
        "asset_id": result.asset_id,
        "channels": result.channels,
        "samples": result.samples,
        "alarms": result.alarms,
        "alert_ids": [a.id for a in result.alerts],
        "new_alert_ids": [a.id for a in result.new_alerts],
    }
