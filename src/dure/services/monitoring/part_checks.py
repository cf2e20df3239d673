"""The live check of a part's process records: each new record is placed on the control
charts of its parameters (the charts the Process page draws) and scored by the part's
newest process-quality model; a rule broken or a likely defect raises an alert.

Per-parameter settings come from the part's ``parameter`` checks (on/off, which rules);
what the watch keeps (``state``) is the time of the newest record it has checked.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from dure.domain.alerts import Alert, AlertKind
from dure.domain.live_checks import LiveCheck, SubjectKind
from dure.domain.times import as_utc
from dure.services.alerts.raising import raise_alert
from dure.services.monitoring.channel_checks import CheckOutcome
from dure.services.process.control_charts import Violation, parameter_charts, stored_settings
from dure.services.process.quality_models import newest_process_model, score_records
from dure.store.session import Session

MAX_RECORDS = 5000  # newest records read and scored per run (a longer backlog: the newest)
FIRST_RUN_RECORDS = 25  # a new watch raises violations among the newest records only


def check_part(session: Session, check: LiveCheck) -> CheckOutcome:
    """Check the part's process records stored since the last run."""
    part = session.parts.get(check.subject_id)
    state = dict(check.state)
    since = datetime.fromisoformat(state["checked_to"]) if "checked_to" in state else None
    # bounded reads: the newest records since the last run (a first run: the newest
    # FIRST_RUN_RECORDS and the one before them), never the whole history
    records = session.process_records.own_newest(
        MAX_RECORDS if since else FIRST_RUN_RECORDS + 1,
        since + timedelta(microseconds=1) if since else None,
        part_id=part.id,
    )
    if not records:
        return CheckOutcome(state)
    newest = max(as_utc(r.recorded_at) for r in records)
    if since is None and len(records) > FIRST_RUN_RECORDS:
        # a watch that starts on a long history raises what is current, not last month's
        # blips (the Process page shows the whole history with every violation marked)
        ordered = sorted(as_utc(r.recorded_at) for r in records)
        since = ordered[-FIRST_RUN_RECORDS - 1]
        records = [r for r in records if as_utc(r.recorded_at) > since]
    alerts = []
    if "spc" in check.rules:
        alerts += _spc(session, check, part.id, part.number, since)
    if "predicted_defect" in check.rules:
        version = newest_process_model(session, part.id)
        if version is not None:
            _, new = score_records(session, version, records[-MAX_RECORDS:])
            alerts += new
    state["checked_to"] = newest.isoformat()
    return CheckOutcome(state, alerts, checked=len(records))


def _spc(
    session: Session, check: LiveCheck, part_id: str, number: str, since: datetime | None
) -> list[Alert]:
    params = {
        c.parameter: c
        for c in session.live_checks.list_own(
            subject_kind=SubjectKind.PARAMETER.value, subject_id=part_id
        )
    }
    # reads the oldest records (limits), the new ones and the rules' lookback only
    charts = parameter_charts(
        session,
        part_id,
        since=since + timedelta(microseconds=1) if since else None,
        settings=stored_settings(session, part_id),
    )
    out = []
    for chart in charts:
        conf = params.get(chart.parameter)
        if conf is not None and not conf.enabled:
            continue
        allowed = set(conf.rules) if conf is not None else None
        by_rule: dict[str, list[Violation]] = {}
        for v in chart.violations:
            if allowed is None or v.rule in allowed:
                by_rule.setdefault(v.rule, []).append(v)
        for code, hits in by_rule.items():
            at = hits[-1]
            alert, is_new = raise_alert(
                session,
                AlertKind.SPC_RULE,
                part_id,
                f"{chart.parameter}: {code} {at.name}",
                f"{number}/{chart.parameter}: {code} {at.name} ({len(hits)} point(s), last "
                f"{at.value:.4g}{' ' + chart.unit if chart.unit else ''} at "
                f"{at.time.isoformat()}; limits {chart.lcl[at.index]:.4g} .. "
                f"{chart.ucl[at.index]:.4g})",
                "critical" if code in ("WE1", "N1") else "warning",
                f"/process?part={part_id}&parameter={chart.parameter}",
            )
            if is_new:
                out.append(alert)
    return out
