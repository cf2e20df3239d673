"""What a root-cause answer from a supplier may hold, checked before the OEM keeps it.

The OEM's install keeps an answer exactly as it crossed and its pages read it back; an
answer from another install is therefore checked to be the agreed aggregates and nothing
else (per lot: its code, day, part number, part count, per-parameter shift and Cpk, the
top causes, the inspection counts), with finite numbers only (JSON's NaN and Infinity
would make every later read of the page fail) and no other shape. InvalidInput names the
first field that is off, e.g. ``answer.lots[0].parameters[2].shift_sigma``.
"""

from __future__ import annotations

import math
from typing import Any

from dure.errors import InvalidInput

ANSWER_STATUSES = ("answered", "declined")
MAX_LOTS = 1000
MAX_PARAMETERS = 1000
MAX_TEXT = 200
MAX_COUNT = 1_000_000_000

_ANSWER_KEYS = {
    "request_id",
    "status",
    "min_group",
    "lots",
    "lots_not_found",
    "serials_not_found",
    "computed_at",
}
_DECLINED_KEYS = {"request_id", "status", "reason"}
_LOT_KEYS = {"lot", "made_on", "part_number", "parts", "parameters", "top_causes", "inspection"}
_PARAMETER_KEYS = {"name", "unit", "shift_sigma", "normal_from", "cpk"}
_CAUSE_KEYS = {"parameter", "share"}
_INSPECTION_KEYS = {"inspected", "ok", "ng", "defect_types"}


def check_answer(doc: Any, statuses: tuple[str, ...] = ANSWER_STATUSES) -> dict[str, Any]:
    """``doc`` when it is a root-cause answer of one of ``statuses`` holding only the
    agreed aggregates; InvalidInput naming the field otherwise."""
    if not isinstance(doc, dict):
        raise InvalidInput("answer", "a root-cause answer is a JSON object")
    _text(doc.get("request_id"), "answer.request_id", nullable=False)
    status = doc.get("status")
    if status not in statuses:
        raise InvalidInput("answer.status", f"{str(status)[:40]!r}: expected one of {statuses}")
    if status != "answered":
        _keys(doc, _DECLINED_KEYS, "answer", required=False)
        _text(doc.get("reason"), "answer.reason", limit=1000)
        return doc
    _keys(doc, _ANSWER_KEYS, "answer")
    _count(doc.get("min_group"), "answer.min_group")
    _text(doc.get("computed_at"), "answer.computed_at", nullable=False)
    _count(doc.get("serials_not_found"), "answer.serials_not_found")
    not_found = _list(doc.get("lots_not_found"), "answer.lots_not_found", MAX_LOTS)
    for i, code in enumerate(not_found):
        _text(code, f"answer.lots_not_found[{i}]", nullable=False)
    for i, lot in enumerate(_list(doc.get("lots"), "answer.lots", MAX_LOTS)):
        _lot(lot, f"answer.lots[{i}]")
    return doc


def _lot(lot: Any, where: str) -> None:
    _keys(lot, _LOT_KEYS, where)
    _text(lot.get("lot"), f"{where}.lot")
    _text(lot.get("made_on"), f"{where}.made_on")
    _text(lot.get("part_number"), f"{where}.part_number")
    _count(lot.get("parts"), f"{where}.parts")
    parameters = _list(lot.get("parameters"), f"{where}.parameters", MAX_PARAMETERS)
    for j, parameter in enumerate(parameters):
        at = f"{where}.parameters[{j}]"
        _keys(parameter, _PARAMETER_KEYS, at, required=False)
        _text(parameter.get("name"), f"{at}.name", nullable=False)
        _text(parameter.get("unit"), f"{at}.unit")
        _text(parameter.get("normal_from"), f"{at}.normal_from")
        _number(parameter.get("shift_sigma"), f"{at}.shift_sigma")
        _number(parameter.get("cpk"), f"{at}.cpk")
    for j, cause in enumerate(_list(lot.get("top_causes"), f"{where}.top_causes", MAX_PARAMETERS)):
        at = f"{where}.top_causes[{j}]"
        _keys(cause, _CAUSE_KEYS, at)
        _text(cause.get("parameter"), f"{at}.parameter", nullable=False)
        _number(cause.get("share"), f"{at}.share", nullable=False)
    inspection = lot.get("inspection")
    at = f"{where}.inspection"
    _keys(inspection, _INSPECTION_KEYS, at)
    _count(inspection.get("inspected"), f"{at}.inspected")
    _count(inspection.get("ok"), f"{at}.ok", nullable=True)
    _count(inspection.get("ng"), f"{at}.ng", nullable=True)
    types = inspection.get("defect_types")
    if not isinstance(types, dict) or len(types) > MAX_PARAMETERS:
        raise InvalidInput(f"{at}.defect_types", "an object of defect type -> count")
    for name, count in types.items():
        _text(name, f"{at}.defect_types", nullable=False)
        _count(count, f"{at}.defect_types.{str(name)[:40]}")


def _keys(value: Any, allowed: set[str], where: str, required: bool = True) -> None:
    if not isinstance(value, dict):
        raise InvalidInput(where, "must be a JSON object")
    extra = sorted(set(value) - allowed)
    if extra:
        raise InvalidInput(where, f"holds {str(extra[0])[:40]!r}, which no answer carries")
    missing = sorted(allowed - set(value)) if required else []
    if missing:
        raise InvalidInput(where, f"{missing[0]!r} is missing")


def _list(value: Any, where: str, limit: int) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidInput(where, "must be a list")
    if len(value) > limit:
        raise InvalidInput(where, f"at most {limit} items")
    return value


def _text(value: Any, where: str, *, nullable: bool = True, limit: int = MAX_TEXT) -> None:
    if value is None and nullable:
        return
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidInput(where, f"must be a text of at most {limit} characters")


def _count(value: Any, where: str, nullable: bool = False) -> None:
    if value is None and nullable:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise InvalidInput(where, "must be a whole number of parts")


def _number(value: Any, where: str, nullable: bool = True) -> None:
    if value is None and nullable:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(where, "must be a finite number")
