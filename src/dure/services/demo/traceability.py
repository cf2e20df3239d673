"""The demo's traceability story: Hanul ships door-panel lots to Hanbit, and Hanbit finds
cracks at assembly in the lots its drifting die heat made.

Each of Hanul's last ``SHIPPED_DAYS`` daily door-panel lots goes to Hanbit in one shipment
(the lot's serials are the parts whose process records Hanul keeps). Hanbit's assembly
line finds cracks on the parts whose true defect risk comes from die heat and stands well
above baseline (``plant_data`` truth), so the cracks gather in Hanul's late, hot lots;
one field return names a late lot without serials.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from dure.domain.organisations import Organisation
from dure.services.platform.accounts import system_caller
from dure.services.traceability.defects import record_defect
from dure.services.traceability.shipments import record_shipment, send_within_install
from dure.store.session import Store

SUPPLIER = "hanul"
SHIPPED_DAYS = 14
LOT_QUANTITY = 400
# a die-heat-driven part cracks at assembly above this true defect probability
CRACK_RISK = 0.028
ASSEMBLY_DELAY = timedelta(days=2)


def ship_and_find_cracks(
    store: Store,
    supplier: Organisation,
    oem: Organisation,
    part: dict[str, Any],
    start: datetime,
    days: int,
    process_truth: list[dict[str, Any]],
) -> dict[str, Any]:
    """Record and send Hanul's shipments, then Hanbit's crack records; the ground truth."""
    number = str(part["number"])
    by_day: dict[int, list[dict[str, Any]]] = {}
    for row in process_truth:
        if row["part"] == number:
            by_day.setdefault(int(str(row["serial"]).rsplit("-", 1)[1][:2]), []).append(row)
    first = max(days - SHIPPED_DAYS, 0)
    shipped: list[str] = []
    with store.session(system_caller(supplier)) as s:
        for day in range(first, days):
            code = f"{number}-L{day:02d}"
            shipment = record_shipment(
                s,
                oem_org_id=oem.id,
                shipment_no=f"{supplier.slug.upper()}-DN-{day:02d}",
                part_id=str(part["id"]),
                lots=[
                    {
                        "code": code,
                        "quantity": LOT_QUANTITY,
                        "serials": [str(r["serial"]) for r in by_day.get(day, [])],
                    }
                ],
                shipped_at=start + timedelta(days=day, hours=22),
            )
            send_within_install(s, shipment.id)
            shipped.append(code)
    cracked: list[str] = []
    latest = start + timedelta(days=days) - timedelta(minutes=30)  # nothing found in the future
    with store.session(system_caller(oem)) as s:
        for day in range(first, days):
            for row in by_day.get(day, []):
                if row["cause"] == "die_temp_C" and row["p_defect"] >= CRACK_RISK:
                    record_defect(
                        s,
                        supplier_org_id=supplier.id,
                        stage="assembly",
                        defect_type="crack",
                        found_at=min(
                            datetime.fromisoformat(str(row["at"])) + ASSEMBLY_DELAY, latest
                        ),
                        serials=[str(row["serial"])],
                        note="crack at the hinge bend, found at door assembly",
                    )
                    cracked.append(str(row["serial"]))
        late = f"{number}-L{days - 3:02d}"
        record_defect(
            s,
            supplier_org_id=supplier.id,
            stage="field_return",
            defect_type="crack",
            found_at=start + timedelta(days=days - 1, hours=12),
            count=2,
            lot_codes=[late],
            note="two doors returned from the field with cracked outer panels",
        )
    return {"shipped_lots": shipped, "cracked_serials": cracked, "field_return_lot": late}
