"""What drives a part's predicted defects, and which setpoints to move: read from the part's
newest trained process-quality model over its recent process records.

Root causes are mean |TreeSHAP contribution| per parameter (the model's
``contributions``, LightGBM ``pred_contrib``), summed over the defect classes. Setpoint
advice searches the typical recent operating point (the median of each parameter) for at
most three moves within each parameter's specification limits, or, without them, within
the range the recent records span (5th–95th percentile), and predicts the defect rate of
the recent records before and after the moves.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from dure.domain.model_versions import ModelVersion
from dure.domain.parts import ParameterSpec
from dure.domain.records import ProcessRecord
from dure.models.tabular.defects import DefectClassifier
from dure.models.tabular.setpoints import advise
from dure.services.process.quality_models import OK, TASK, stored_model
from dure.store.session import Session

RECENT = 200


@dataclass(frozen=True)
class Cause:
    """A parameter and how strongly it moves the predicted defect (mean |SHAP|, logits)."""

    parameter: str
    contribution: float


@dataclass(frozen=True)
class SetpointMove:
    """Move ``parameter`` from ``current`` to ``advised`` (within ``low``–``high``)."""

    parameter: str
    current: float
    advised: float
    low: float
    high: float
    limits_from: str  # "spec" or "recent range"


@dataclass(frozen=True)
class DefectCauses:
    """The model used, the causes and the advice with its predicted gain."""

    model_id: str
    model_name: str
    model_version: int
    trained_at: datetime
    records: int
    causes: list[Cause]
    moves: list[SetpointMove]
    defect_rate_before: float
    defect_rate_after: float

    @property
    def gain(self) -> float:
        """The predicted fall of the defect rate (a share of parts) if the moves are made."""
        return self.defect_rate_before - self.defect_rate_after


def newest_model(session: Session, part_id: str) -> ModelVersion | None:
    """The caller's newest ready process-quality model of the part, if any."""
    versions = [
        v
        for v in session.model_versions.list_own(task=TASK, part_id=part_id)
        if v.status == "ready" and v.blob_sha256
    ]
    return max(versions, key=lambda v: v.version, default=None)


def defect_causes(
    session: Session,
    part_id: str,
    records: list[ProcessRecord],
    specs: Mapping[str, ParameterSpec],
    recent: int = RECENT,
) -> DefectCauses | None:
    """Root causes and setpoint advice from the part's newest model over the newest
    ``recent`` of ``records`` (oldest first); None without a model or records. Reads only."""
    version = newest_model(session, part_id)
    if version is None or not records:
        return None
    model = stored_model(session.blob_store.get(version.blob_sha256))  # type: ignore[arg-type]
    rows = records[-recent:]
    names = model.feature_names_
    X = np.array([[r.values.get(n, np.nan) for n in names] for r in rows], dtype=float)
    return DefectCauses(
        model_id=version.id,
        model_name=version.name,
        model_version=version.version,
        trained_at=version.created_at,
        records=len(rows),
        causes=_causes(model, X),
        **_advice(model, X, specs),
    )


def _defect_columns(model: DefectClassifier) -> list[int]:
    if len(model.classes_) == 2:
        return [0]  # binary: one logit, its magnitude is what matters
    return [k for k, c in enumerate(model.classes_) if c != OK]


def _causes(model: DefectClassifier, X: np.ndarray) -> list[Cause]:
    shap = model.contributions(X)
    strength = np.abs(shap[:, :, _defect_columns(model)]).sum(axis=2).mean(axis=0)
    order = np.argsort(-strength)
    return [Cause(model.feature_names_[i], float(strength[i])) for i in order]


def _advice(
    model: DefectClassifier, X: np.ndarray, specs: Mapping[str, ParameterSpec]
) -> dict[str, object]:
    names = model.feature_names_
    limits: dict[str, tuple[float, float]] = {}
    source: dict[str, str] = {}
    for j, name in enumerate(names):
        column = X[:, j][np.isfinite(X[:, j])]
        spec = specs.get(name)
        if spec is not None and spec.lower is not None and spec.upper is not None:
            limits[name], source[name] = (spec.lower, spec.upper), "spec"
        elif len(column) >= 2:
            low, high = np.percentile(column, [5, 95])
            limits[name], source[name] = (float(low), float(high)), "recent range"
    typical = np.nanmedian(X, axis=0)
    typical = np.where(np.isfinite(typical), typical, 0.0)
    found = advise(lambda rows: -model.score(rows), typical, names, limits)
    before = float(np.mean(model.score(X)))
    moved = X.copy()
    for move in found.moves:
        moved[:, names.index(move.parameter)] = move.advised
    after = float(np.mean(model.score(moved))) if found.moves else before
    moves = [
        SetpointMove(
            m.parameter,
            m.current,
            m.advised,
            limits[m.parameter][0],
            limits[m.parameter][1],
            source[m.parameter],
        )
        for m in found.moves
    ]
    return {"moves": moves, "defect_rate_before": before, "defect_rate_after": after}


def causes_over(
    session: Session, part_id: str, records: list[ProcessRecord], defect_type: str | None = None
) -> list[Cause] | None:
    """What drives the predicted defect over ``records`` taken together: mean |SHAP| per
    parameter from the part's newest model, toward ``defect_type`` when the model knows
    that class, else over every defect class; None without a model or records."""
    version = newest_model(session, part_id)
    if version is None or not records:
        return None
    model = stored_model(session.blob_store.get(version.blob_sha256))  # type: ignore[arg-type]
    names = model.feature_names_
    X = np.array([[r.values.get(n, np.nan) for n in names] for r in records], dtype=float)
    if defect_type and defect_type in model.classes_ and defect_type != OK:
        return [Cause(n, s) for n, s in model.root_causes(X, defect_type, top=len(names))]
    return _causes(model, X)
