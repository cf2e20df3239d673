"""Sending new alerts to the organisation's webhooks and MQTT topics.

Sending happens after the alert is committed, so a slow or broken receiver never loses
or blocks an alert; the result of each delivery is kept on the alert.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from dure.collab.outbound import OutboundPolicy
from dure.domain.alerts import Alert, AlertTarget
from dure.domain.users import Caller
from dure.errors import InvalidInput
from dure.store.session import Store

STRICT = OutboundPolicy()  # no loopback or private addresses


def deliver(
    store: Store,
    caller: Caller,
    alerts: list[Alert],
    outbound: OutboundPolicy,
    timeout_s: float = 5.0,
) -> None:
    """Send each alert to every target of its organisation (a target whose host now
    resolves where the outbound policy forbids is not sent to); record the outcome."""
    if not alerts:
        return
    with store.session(caller) as session:
        targets = session.alert_targets.all()
    if not targets:
        return
    results: dict[str, dict[str, Any]] = {}
    for alert in alerts:
        body = json.dumps(_payload(alert)).encode()
        results[alert.id] = {t.id: _send(t, body, timeout_s, outbound) for t in targets}
    with store.session(caller) as session:
        for alert_id, outcome in results.items():
            session.alerts.record_delivery(alert_id, outcome)


def _payload(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "kind": alert.kind.value,
        "subject_id": alert.subject_id,
        "rule": alert.rule,
        "message": alert.message,
        "severity": alert.severity,
        "first_at": alert.first_at.isoformat(),
    }


def _send(target: AlertTarget, body: bytes, timeout_s: float, outbound: OutboundPolicy) -> str:
    try:
        outbound.check(target.address, "address")
    except InvalidInput as exc:
        return f"not sent: {exc.reason}"
    try:
        if target.kind == "webhook":
            request = urllib.request.Request(
                target.address, data=body, headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310
                return f"sent: HTTP {response.status}"
        from paho.mqtt import publish

        parts = urlsplit(target.address)
        publish.single(
            parts.path.lstrip("/"),
            body,
            qos=1,
            hostname=parts.hostname or "",
            port=parts.port or 1883,
            keepalive=10,
        )
        return "sent: MQTT"
    except (OSError, urllib.error.URLError, ValueError) as exc:
        return f"failed: {exc}"
