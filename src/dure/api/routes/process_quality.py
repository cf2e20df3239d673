"""Process-quality models: learn defects from process records, predict for new ones."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from dure.api.deps import CallerDep, InstallDep, StoreDep
from dure.domain.model_versions import ModelVersion
from dure.services.process.quality_models import predict_defects, train_process_model

router = APIRouter(tags=["process quality"])


@router.post("/api/parts/{part_id}/process-model", status_code=201)
def train_model(part_id: str, store: StoreDep, caller: CallerDep) -> ModelVersion:
    """Learn which process records end in a defect (outcomes from inspections, matched by
    serial); the card holds time-ordered validation figures and the main causes."""
    return train_process_model(store, caller, part_id)


@router.post("/api/process-models/{model_id}/predict")
def predict(
    model_id: str,
    install: InstallDep,
    caller: CallerDep,
    recent: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """Score the part's newest process records; likely defects raise alerts."""
    predictions, alerts = predict_defects(
        install.store, caller, model_id, recent, outbound=install.outbound
    )
    return {
        "predictions": [
            {
                "record_id": p.record_id,
                "serial": p.serial,
                "p_defect": p.p_defect,
                "likely": p.likely,
                "causes": [{"parameter": n, "value": v} for n, v in p.causes],
            }
            for p in predictions
        ],
        "new_alert_ids": [a.id for a in alerts],
    }
