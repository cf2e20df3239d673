"""Raising alerts (one per open problem: a repeat is counted, not added) and choosing where
the organisation's new alerts are sent."""

from __future__ import annotations

from urllib.parse import urlsplit

from dure.collab.outbound import OutboundPolicy
from dure.domain.alerts import Alert, AlertKind, AlertTarget
from dure.errors import InvalidInput
from dure.store.session import Session


def add_target(session: Session, kind: str, address: str, outbound: OutboundPolicy) -> AlertTarget:
    """Send new alerts to a webhook (``https://…``) or an MQTT topic (``mqtt://host:port/topic``)
    whose host the outbound policy lets this install reach."""
    session.alert_targets.require_write()
    parts = urlsplit(address)
    if kind == "webhook" and parts.scheme not in ("http", "https"):
        raise InvalidInput("address", "a webhook address starts with http:// or https://")
    if kind == "mqtt" and (parts.scheme != "mqtt" or not parts.hostname or len(parts.path) < 2):
        raise InvalidInput("address", "write the MQTT target as mqtt://host:port/topic/path")
    if kind not in ("webhook", "mqtt"):
        raise InvalidInput("kind", f"{kind!r}: use webhook or mqtt")
    outbound.check(address, "address")
    return session.alert_targets.add(
        AlertTarget(org_id=session.caller.org_id, kind=kind, address=address)
    )


def raise_alert(
    session: Session,
    kind: AlertKind,
    subject_id: str,
    rule: str,
    message: str,
    severity: str = "warning",
    link: str | None = None,
) -> tuple[Alert, bool]:
    """Store an alert, or count a repeat of the same open problem; True when new.

    ``link`` is the dashboard page that shows what raised it (a chart or an image)."""
    alert = Alert(
        org_id=session.caller.org_id,
        kind=kind,
        subject_id=subject_id,
        rule=rule,
        message=message,
        severity=severity,
        link=link,
    )
    return session.alerts.raise_or_count(alert)
