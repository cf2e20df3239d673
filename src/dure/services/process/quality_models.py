"""Process-quality models as use cases: learn which process records end in a defect,
then predict defects for new records and raise alerts with their likely causes.

The outcome of a part comes from its inspection (matched by serial number): a person's
review decision when there is one, else the inspector's verdict; "unsure" parts are left
out. Validation is time-ordered (train on earlier records, test on later ones), the
probabilities are calibrated on the latest fold, and the model is stored as JSON (the
LightGBM model text, no pickle) in a model version of task ``process-quality``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from dure.collab.outbound import OutboundPolicy
from dure.domain.alerts import Alert, AlertKind
from dure.domain.model_versions import ModelVersion
from dure.domain.pages import Page
from dure.domain.records import InspectionRecord, ProcessRecord, ReviewDecision, Verdict
from dure.domain.users import Caller
from dure.errors import InvalidInput, StateConflict
from dure.models.tabular.defects import DefectClassifier
from dure.models.tabular.splits import ordered_folds
from dure.services.alerts.delivery import STRICT, deliver
from dure.services.alerts.raising import raise_alert
from dure.services.inspection.records import store_blob
from dure.services.platform.model_files import MEDIA_TYPE, model_bytes, model_from_bytes
from dure.store.session import Session, Store

TASK = "process-quality"
OK = "ok"
MIN_ROWS = 40


def _outcome(record: InspectionRecord) -> str | None:
    if record.review_decision is ReviewDecision.ACCEPT:
        return OK
    if record.review_decision in (ReviewDecision.REJECT, ReviewDecision.RELABEL):
        return record.defect_type or "defect"
    if record.verdict is Verdict.OK:
        return OK
    if record.verdict is Verdict.NG:
        return record.defect_type or "defect"
    return None


def _rows(records: list[ProcessRecord], names: list[str]) -> np.ndarray:
    return np.array([[r.values.get(n, np.nan) for n in names] for r in records], dtype=float)


def train_process_model(
    store: Store, caller: Caller, part_id: str, name: str | None = None
) -> ModelVersion:
    """Learn defect (type) from the part's process records and inspection outcomes."""
    with store.session(caller) as s:
        s.parts.get(part_id)
        outcome: dict[str, str] = {}
        for insp in sorted(
            s.inspections.list_all(part_id=part_id, org_id=caller.org_id),
            key=lambda r: r.taken_at,
        ):
            label = _outcome(insp)
            if insp.serial and label:
                outcome[insp.serial] = label
        records = [
            r
            for r in s.process_records.list_all(part_id=part_id, org_id=caller.org_id)
            if r.serial in outcome
        ]
    if len(records) < MIN_ROWS:
        raise StateConflict(
            "part_id",
            f"{len(records)} process records have an inspected outcome (matched by serial); "
            f"a process-quality model needs {MIN_ROWS}",
        )
    records.sort(key=lambda r: r.recorded_at)
    labels = [outcome[r.serial] for r in records]  # type: ignore[index]
    if OK not in labels or len(set(labels)) < 2:
        raise StateConflict("part_id", "need both good parts and defective parts to learn from")
    names = sorted({k for r in records for k in r.values})
    X = _rows(records, names)
    times = np.array([r.recorded_at.timestamp() for r in records])
    folds = ordered_folds(times, n_splits=3)
    accuracy, caught = [], []
    for train, test in folds:
        if len(set(labels[i] for i in train)) < 2:
            continue
        model = DefectClassifier().fit(X[train], [labels[i] for i in train], names)
        predicted = model.predict(X[test])
        truth = [labels[i] for i in test]
        accuracy.append(float(np.mean([p == t for p, t in zip(predicted, truth, strict=True)])))
        bad = [p != OK for p, t in zip(predicted, truth, strict=True) if t != OK]
        if bad:
            caught.append(float(np.mean(bad)))
    train, test = folds[-1]
    final = DefectClassifier().fit(X, labels, names)
    earlier = DefectClassifier().fit(X[train], [labels[i] for i in train], names)
    # calibrate on the later records whose label the earlier model knows (a defect type
    # first seen late cannot be scored by it; the final model learns it all the same)
    known = [i for i in test if labels[i] in earlier.classes_]
    final.temperature_ = earlier.calibrate(X[known], [labels[i] for i in known])
    card = {
        "rows": len(records),
        "classes": final.classes_,
        "parameters": names,
        "validation": "time-ordered, 3 folds after the first 30 % of records",
        "accuracy_later_records": float(np.mean(accuracy)) if accuracy else None,
        "defects_caught_later_records": float(np.mean(caught)) if caught else None,
        "temperature": final.temperature_,
        "root_causes": final.root_causes(X, next(c for c in final.classes_ if c != OK), top=5),
        "threshold": 0.5,
    }
    data = model_bytes(final)
    with store.session(caller) as s:
        previous = [m.version for m in s.model_versions.list_all(task=TASK, part_id=part_id)]
        sha = store_blob(s, data, MEDIA_TYPE, f"process-model-{part_id}.tar")
        return s.model_versions.add(
            ModelVersion(
                org_id=caller.org_id,
                name=name or f"process quality {part_id[:8]}",
                version=max(previous, default=0) + 1,
                task=TASK,
                part_id=part_id,
                blob_sha256=sha,
                card=card,
                status="ready",
            )
        )


def stored_model(data: bytes) -> DefectClassifier:
    """A stored process-quality model: a packed model folder, or the JSON of older versions."""
    if data.startswith(b"{"):
        return DefectClassifier.from_legacy_dict(json.loads(data))
    model = model_from_bytes(data)
    if not isinstance(model, DefectClassifier):
        raise InvalidInput("model_id", f"the stored model is a {model.kind}, not process-defects")
    return model


@dataclass(frozen=True)
class DefectPrediction:
    """One scored process record."""

    record_id: str
    serial: str | None
    p_defect: float
    likely: str
    causes: list[tuple[str, float]]


def predict_defects(
    store: Store,
    caller: Caller,
    model_id: str,
    recent: int = 100,
    *,
    outbound: OutboundPolicy = STRICT,
) -> tuple[list[DefectPrediction], list[Alert]]:
    """Score the part's newest process records; a likely defect raises an alert (one per
    part and defect type, counted on repeats) naming the record and its top causes."""
    with store.session(caller) as s:
        version = s.model_versions.get(model_id)
        if version.task != TASK or version.blob_sha256 is None or version.part_id is None:
            raise StateConflict("model_id", "not a trained process-quality model")
        records = s.process_records.list(
            Page(limit=min(recent, 1000)), part_id=version.part_id, org_id=caller.org_id
        ).items
        out, new = score_records(s, version, records)
    deliver(store, caller, new, outbound)
    return out, new


def newest_process_model(session: Session, part_id: str) -> ModelVersion | None:
    """The part's newest trained process-quality model of the caller's own, if any."""
    found = [
        v
        for v in session.model_versions.list_own(part_id=part_id, task=TASK)
        if v.blob_sha256 is not None
    ]
    return found[-1] if found else None


def score_records(
    s: Session, version: ModelVersion, records: list[ProcessRecord]
) -> tuple[list[DefectPrediction], list[Alert]]:
    """Score ``records`` with a trained process-quality model; each likely defect raises
    (or counts) an alert naming the record and its top causes. Returns the predictions
    and the alerts that are new."""
    if not records or version.blob_sha256 is None or version.part_id is None:
        return [], []
    model = stored_model(s.blob_store.get(version.blob_sha256))
    X = _rows(records, model.feature_names_)
    proba = model.predict_proba(X)
    ok = model.classes_.index(OK)
    shap = model.contributions(X)
    threshold = float(version.card.get("threshold", 0.5))
    out, new = [], []
    for i, record in enumerate(records):
        p_bad = 1.0 - float(proba[i, ok])
        worst = int(np.argmax(np.where(np.arange(len(model.classes_)) == ok, -1, proba[i])))
        k = worst if shap.shape[2] > 1 else 0
        top = np.argsort(-np.abs(shap[i, :, k]))[:3]
        causes = [(model.feature_names_[j], float(X[i, j])) for j in top]
        out.append(DefectPrediction(record.id, record.serial, p_bad, model.classes_[worst], causes))
        if p_bad >= threshold:
            text = ", ".join(f"{n} = {v:.4g}" for n, v in causes)
            alert, is_new = raise_alert(
                s,
                AlertKind.PREDICTED_DEFECT,
                version.part_id,
                f"predicted {model.classes_[worst]}",
                f"part {record.serial or record.id}: {model.classes_[worst]} likely "
                f"({p_bad:.0%}); look at {text}",
                link=f"/process?part={version.part_id}",
            )
            new.extend([alert] if is_new else [])
    return out, new
