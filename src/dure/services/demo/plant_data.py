"""Process records and machine sensor history of the demo suppliers, with their ground truth."""

from __future__ import annotations

import io
import math
from datetime import datetime, timedelta

import numpy as np

PROCESS_SCHEMA = {
    "parameters": {
        "press_force_kN": {"unit": "kN", "min": 0, "max": 2000},
        "stroke_rate_spm": {"unit": "strokes/min", "min": 0, "max": 120},
        "die_temp_C": {"unit": "°C", "min": -20, "max": 300},
        "sheet_thickness_mm": {"unit": "mm", "min": 0.1, "max": 5},
        "lubricant_ml": {"unit": "ml", "min": 0, "max": 50},
    }
}

# Specification limits of the stamped panels (what Cpk is measured against): the die runs
# at 58 ± 3 °C against 46–70 °C, so its +12 °C drift eats the upper margin.
PROCESS_SPECS = {
    "press_force_kN": (740.0, 900.0),
    "stroke_rate_spm": (36.0, 48.0),
    "die_temp_C": (46.0, 70.0),
    "sheet_thickness_mm": (0.75, 0.85),
    "lubricant_ml": (3.0, 13.0),
}

CHANNELS = (("vibration_rms", "mm/s"), ("motor_current", "A"), ("oil_temp", "°C"))


# The parameters the demo's true defect rule is driven by (press force only weakly).
DEFECT_DRIVERS = ("die_temp_C", "sheet_thickness_mm", "lubricant_ml")
# The defect a part shows when one driver dominates its risk: a hot die cracks the panel,
# lubricant starvation scratches it (galling), thin sheet dents. Parts with no driver out
# of its window fail for reasons the process records do not hold (coil rust, inclusions).
CAUSE_DEFECT = {"die_temp_C": "crack", "lubricant_ml": "scratch", "sheet_thickness_mm": "dent"}


def _driver_terms(die_temp: float, thickness: float, lube: float) -> dict[str, float]:
    return {
        "die_temp_C": 0.06 * max(die_temp - 62, 0),
        "sheet_thickness_mm": 9.0 * max(0.78 - thickness, 0),
        "lubricant_ml": 0.35 * max(6 - lube, 0),
    }


def defect_probability(force: float, die_temp: float, thickness: float, lube: float) -> float:
    """The demo's true defect rule: hot dies, thin sheet and little lubricant cause defects."""
    z = -4.2 + sum(_driver_terms(die_temp, thickness, lube).values())
    z += 0.004 * abs(force - 820)
    return 1 / (1 + math.exp(-z))


def defect_cause(die_temp: float, thickness: float, lube: float) -> str | None:
    """The driver that adds most to a part's true defect risk; None when none is out of
    its window (the part is at baseline risk)."""
    terms = _driver_terms(die_temp, thickness, lube)
    worst = max(terms, key=lambda name: terms[name])
    return worst if terms[worst] > 0 else None


def process_csv(
    rng: np.random.Generator,
    start: datetime,
    days: int,
    parts: list[str],
    line: str,
    lot_codes: list[list[str]],
    per_day: int,
    drift: float,
) -> tuple[bytes, list[dict[str, object]]]:
    """A process-record CSV (per part serial, ``per_day`` records a day taking the parts
    in turn) and the truth of each row: serial, part, time, true defect probability and
    the driver behind it (``defect_cause``)."""
    out = io.StringIO()
    out.write(
        "part,time,lot,serial,line,press_force_kN,stroke_rate_spm,die_temp_C,"
        "sheet_thickness_mm,lubricant_ml\n"
    )
    truth = []
    for day in range(days):
        for k in range(per_day):
            part_i = k % len(parts)
            at = start + timedelta(days=day, hours=6 + 14 * k / per_day)
            force = rng.normal(820, 25)
            spm = rng.normal(42, 2)
            die = rng.normal(58 + drift * day / days, 3)
            thick = rng.normal(0.8, 0.015)
            lube = max(rng.normal(8, 1.5), 0.5)
            serial = f"{parts[part_i]}-{day:02d}{k:03d}"
            out.write(
                f"{parts[part_i]},{at.isoformat()},{lot_codes[part_i][day]},{serial},{line},"
                f"{force:.1f},{spm:.2f},{die:.2f},{thick:.3f},{lube:.2f}\n"
            )
            truth.append(
                {
                    "serial": serial,
                    "part": parts[part_i],
                    "at": at.isoformat(),
                    "p_defect": round(defect_probability(force, die, thick, lube), 4),
                    "cause": defect_cause(die, thick, lube),
                }
            )
    return out.getvalue().encode(), truth


def sensor_csv(
    rng: np.random.Generator,
    asset: str,
    start: datetime,
    days: int,
    every_min: int,
    fails_at_day: float | None,
) -> bytes:
    """Ten-minute sensor history of one press; with ``fails_at_day`` its bearing wears out."""
    n = days * 24 * 60 // every_min
    t_days = np.arange(n) * every_min / 1440.0
    shift = np.sin(2 * np.pi * t_days)  # daily load cycle
    wear = np.zeros(n)
    if fails_at_day is not None:
        wear = np.exp((t_days - fails_at_day) / 3.0)  # grows ~e-fold every 3 days
    vib = 2.2 + 0.25 * shift + 6.0 * wear + rng.normal(0, 0.12, n)
    cur = 38 + 3 * shift + 6 * wear + rng.normal(0, 0.6, n)
    oil = 45 + 4 * shift + 12 * wear + rng.normal(0, 0.5, n)
    epoch = start.timestamp()
    times = [
        datetime.fromtimestamp(epoch + i * every_min * 60, start.tzinfo).isoformat()
        for i in range(n)
    ]
    out = io.StringIO()
    out.write("asset,channel,time,value,unit\n")
    for (name, unit), values in zip(CHANNELS, (vib, cur, oil), strict=True):
        out.writelines(
            f"{asset},{name},{tm},{v:.4f},{unit}\n" for tm, v in zip(times, values, strict=True)
        )
    return out.getvalue().encode()
