"""What a KPI report from a partner's install may hold, checked before the OEM keeps it.

The OEM's scorecard reads each supplier's latest figures (ppm, first-pass yield, drift,
defects by type, and since parity the shared models' status, score drift and cause); a
report with another shape there, or with JSON's NaN or Infinity anywhere, would make the
scorecard answer 500 for every later reader. InvalidInput names the first field that is
off, e.g. ``figures.parity.models[0]``.
"""

from __future__ import annotations

import math
from typing import Any

from dure.errors import InvalidInput

MAX_DEPTH = 8
MAX_ITEMS = 100_000


def check_figures(figures: Any) -> dict[str, Any]:
    """``figures`` when every number in it is finite, it nests at most MAX_DEPTH deep and
    the fields the scorecard reads have their shapes; InvalidInput naming the field."""
    if not isinstance(figures, dict):
        raise InvalidInput("figures", "must be a JSON object")
    _walk(figures, "figures", 0, [0])
    _count(figures.get("inspected"), "figures.inspected")
    _number(figures.get("ppm"), "figures.ppm")
    _number(figures.get("first_pass_yield"), "figures.first_pass_yield")
    drift = _object(figures.get("drift"), "figures.drift")
    _number(drift.get("psi"), "figures.drift.psi")
    if drift.get("flag") is not None and not isinstance(drift.get("flag"), bool):
        raise InvalidInput("figures.drift.flag", "must be true or false")
    for name, n in _object(figures.get("defects_by_type"), "figures.defects_by_type").items():
        _count(n, f"figures.defects_by_type.{str(name)[:40]}")
    parity = _object(figures.get("parity"), "figures.parity")
    _text(parity.get("status"), "figures.parity.status")
    _number(parity.get("max_score_drift"), "figures.parity.max_score_drift")
    models = parity.get("models") or []
    if not isinstance(models, list):
        raise InvalidInput("figures.parity.models", "must be a list")
    for i, model in enumerate(models):
        at = f"figures.parity.models[{i}]"
        if not isinstance(model, dict):
            raise InvalidInput(at, "must be a JSON object")
        _text(model.get("cause"), f"{at}.cause", 2000)
        _text(model.get("status"), f"{at}.status")
    return figures


def _walk(value: Any, where: str, depth: int, seen: list[int]) -> None:
    seen[0] += 1
    if seen[0] > MAX_ITEMS:
        raise InvalidInput("figures", f"more than {MAX_ITEMS} values")
    if depth > MAX_DEPTH:
        raise InvalidInput(where, f"nests more than {MAX_DEPTH} levels deep")
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInput(where, "must be a finite number (not NaN or Infinity)")
    if isinstance(value, dict):
        for key, item in value.items():
            _walk(item, f"{where}.{str(key)[:40]}", depth + 1, seen)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _walk(item, f"{where}[{i}]", depth + 1, seen)


def _object(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(where, "must be a JSON object")
    return value


def _number(value: Any, where: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise InvalidInput(where, "must be a number")


def _count(value: Any, where: str) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise InvalidInput(where, "must be a whole number")


def _text(value: Any, where: str, limit: int = 200) -> None:
    if value is not None and (not isinstance(value, str) or len(value) > limit):
        raise InvalidInput(where, f"must be a text of at most {limit} characters")
