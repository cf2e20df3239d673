"""Choosing an inspection model's threshold: the trade-off on held-out images, and saving it."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from dure.domain.ids import utcnow
from dure.domain.model_versions import ModelVersion
from dure.errors import InvalidInput
from dure.services.inspection.teaching import own_inspection_model
from dure.store.session import Session


def _scores(card: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    held = card.get("held_out_scores") or {}
    good = np.asarray(held.get("good") or [], dtype=np.float64)
    bad = np.asarray(held.get("defect") or [], dtype=np.float64)
    return good, bad


def tradeoff(card: dict[str, Any], value: float) -> dict[str, Any]:
    """False-alarm and miss rates at ``value`` on the held-out images the card keeps."""
    good, bad = _scores(card)
    return {
        "threshold": value,
        "false_alarm_rate": float(np.mean(good >= value)) if good.size else None,
        "miss_rate": float(np.mean(bad < value)) if bad.size else None,
        "held_out_good": int(good.size),
        "held_out_defects": int(bad.size),
    }


def tradeoff_curve(card: dict[str, Any], points: int = 60) -> list[dict[str, Any]]:
    """The trade-off at ``points`` thresholds spanning the held-out scores (for a slider)."""
    good, bad = _scores(card)
    both = np.concatenate([good, bad])
    if both.size == 0:
        return []
    low, high = float(both.min()), float(both.max())
    span = (high - low) or abs(high) or 1.0
    values = np.linspace(low - 0.05 * span, high + 0.05 * span, points)
    return [tradeoff(card, float(v)) for v in values]


# Scores are distances of features (order 1 to 1e3): outside this range a threshold is a
# typing slip, and 5e-324 once turned every score on the line chart into infinity.
MIN_THRESHOLD, MAX_THRESHOLD = 1e-6, 1e9


def set_threshold(session: Session, model_id: str, value: float) -> ModelVersion:
    """Save a threshold a person chose on one of the caller's ready inspection models.

    The card keeps the calibrated threshold under ``calibrated_threshold`` and the new one
    with its false-alarm and miss rates on the held-out images; the change is audited.
    """
    if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise InvalidInput("value", "a threshold is a positive number")
    if not MIN_THRESHOLD <= value <= MAX_THRESHOLD:
        raise InvalidInput(
            "value", f"use a threshold between {MIN_THRESHOLD:g} and {MAX_THRESHOLD:g}"
        )
    model = own_inspection_model(session, model_id)
    if model.status != "ready":
        raise InvalidInput("model_id", f"model {model_id} is {model.status}: train it first")
    card = dict(model.card)
    previous = card.get("threshold") or {}
    rates = tradeoff(card, float(value))
    card.setdefault("calibrated_threshold", previous)
    card["threshold"] = {
        **previous,
        "value": float(value),
        "method": "chosen",
        "expected_false_alarm_rate": rates["false_alarm_rate"],
        "expected_miss_rate": rates["miss_rate"],
        "chosen_by": session.caller.user_id,
        "chosen_at": utcnow().isoformat(),
    }
    updated = session.model_versions.update_fields(model_id, card=card)
    session.audit.record(
        "set_threshold",
        "model_version",
        model_id,
        detail={"from": previous.get("value"), "to": float(value)},
    )
    return updated
