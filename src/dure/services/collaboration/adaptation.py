"""Local adaptation of a shared model on a supplier's own images; nothing leaves the install.

The supplier recalibrates the threshold on its own good images and, if asked, rebuilds the
memory bank from them (the defect-type head stays the OEM's). The result is a new local
version whose lineage names the base; false-alarm and miss rates on the supplier's own
held-out images before and after are kept on its card.

Adapting takes seconds to minutes, so it is a background job: ``queue_adaptation`` checks
the request at once (role, model, enough images) and queues it; the job runner calls
``run_adaptation``, which computes outside any transaction and writes the new version in one.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np

from dure.domain.jobs import Job, JobKind
from dure.domain.model_versions import ModelVersion
from dure.domain.users import Caller, Role
from dure.errors import Forbidden, InvalidInput
from dure.models.vision.inspector import Inspector, reference_deciles
from dure.models.vision.metrics import image_auroc
from dure.models.vision.patchcore import PatchCore
from dure.services.inspection.inspect import usable_model
from dure.services.inspection.records import store_blob
from dure.services.inspection.teaching import add_derived_version, decode, labelled_of_part
from dure.services.platform.model_files import MEDIA_TYPE, InspectorCache, model_bytes
from dure.store.session import Session, Store


def _rates(inspector: Inspector, good: list[np.ndarray], bad: list[np.ndarray]) -> dict[str, Any]:
    good_s = inspector.score(good).image
    out: dict[str, Any] = {
        "threshold": inspector.threshold,
        "good_images": len(good),
        "false_alarm_rate": float(np.mean(good_s >= inspector.threshold)),
    }
    if bad:
        bad_s = inspector.score(bad).image
        out["defect_images"] = len(bad)
        out["miss_rate"] = float(np.mean(bad_s < inspector.threshold))
        out["image_auroc"] = image_auroc(
            np.r_[np.zeros(len(good_s)), np.ones(len(bad_s))], np.r_[good_s, bad_s]
        )
    return out


def _own_images(session: Session, version_id: str) -> tuple[ModelVersion, list[Any], list[Any]]:
    base = usable_model(session, version_id)
    if base.org_id != session.caller.org_id:
        raise Forbidden("adapt a model you imported, not one you only read")
    images = labelled_of_part(session, base.part_id or "")
    good = [i for i in images if i["label"] == "good"]
    bad = [i for i in images if i["label"] != "good"]
    return base, good, bad


def _need_good(refit_memory: bool) -> int:
    return 12 if refit_memory else 6


def queue_adaptation(
    session: Session,
    version_id: str,
    refit_memory: bool = False,
    false_alarm_rate: float = 0.01,
    seed: int = 0,
) -> Job:
    """Check a request to make a local version of a (shared) model from our own labelled
    images of its part, and queue the job that does it (``run_adaptation``)."""
    if not session.caller.can(Role.ENGINEER):
        raise Forbidden("adapting a model needs the engineer role or higher")
    if not 0 < false_alarm_rate < 0.5:
        raise InvalidInput("false_alarm_rate", "between 0 and 0.5")
    if not 0 <= seed < 2**32:
        raise InvalidInput("seed", "a whole number from 0 to 4294967295")
    base, good, _ = _own_images(session, version_id)
    need = _need_good(refit_memory)
    if len(good) < need:
        raise InvalidInput(
            "images",
            f"adapting needs at least {need} of your own good images; you have {len(good)}",
        )
    return session.jobs.add(
        Job(
            org_id=session.caller.org_id,
            kind=JobKind.ADAPT_MODEL,
            subject_id=base.id,
            created_by=session.caller.user_id,
            params={
                "refit_memory": refit_memory,
                "false_alarm_rate": false_alarm_rate,
                "seed": seed,
            },
        )
    )


def run_adaptation(
    store: Store, caller: Caller, job: Job, cache: InspectorCache, work_dir: Path
) -> dict[str, Any]:
    """Adapt the job's model (see ``queue_adaptation``): the new version's id and the rates
    before and after are the job's result."""
    refit_memory = bool(job.params.get("refit_memory"))
    false_alarm_rate = float(job.params.get("false_alarm_rate", 0.01))
    with store.session(caller, read_only=True) as session:
        base, good, bad = _own_images(session, job.subject_id)
    need = _need_good(refit_memory)
    if len(good) < need:  # images may have gone since the job was queued
        raise InvalidInput("images", f"adapting needs at least {need} of your own good images")
    order = np.random.default_rng(int(job.params.get("seed", 0))).permutation(len(good))
    good = [good[i] for i in order]
    n_eval = max(3, len(good) // 3)
    evaluate = [decode(store, i) for i in good[:n_eval]]
    rest = good[n_eval:]
    inspector = cache.get(base.blob_sha256 or "")
    bad_images = [decode(store, i) for i in bad]
    half = len(bad_images) // 2
    bad_cal, bad_eval = bad_images[:half], bad_images[half:]
    before = _rates(inspector, evaluate, bad_eval)
    _report(store, caller, job, 0.3, "measured the base model on your held-out images")
    if refit_memory:
        n_cal = max(3, len(rest) // 3)
        calibration = [decode(store, i) for i in rest[:n_cal]]
        teach = [decode(store, i) for i in rest[n_cal:]]
        detector = PatchCore(**inspector.detector_.get_params()).fit(teach)
        adapted = Inspector.assemble(detector, inspector.classifier_, inspector.report_)
    else:
        calibration = [decode(store, i) for i in rest]
        # the base model stays as it is (it is cached and in use): a copy gets the threshold
        detector = copy.copy(inspector.detector_)
        adapted = Inspector.assemble(
            detector, inspector.classifier_, inspector.report_, graph=inspector.graph_
        )
    calibrated = adapted.calibrate(calibration, bad_cal, false_alarm_rate)
    after = _rates(adapted, evaluate, bad_eval)
    _report(store, caller, job, 0.8, "calibrated on your good images; packing the model")
    package = base.card.get("package") or {}
    card = {
        **{k: base.card.get(k) for k in ("defect_types",)},
        "threshold": calibrated.threshold.as_dict(),
        "reference_scores": base.card.get("reference_scores")
        or reference_deciles(calibrated.good_scores, calibrated.threshold.value),
        "lineage": {
            "base_version_id": base.id,
            "base_name": base.name,
            "base_version": base.version,
            "base_package_id": package.get("package_id"),
            "base_publisher": package.get("publisher"),
        },
        "adaptation": {
            "refit_memory": refit_memory,
            "false_alarm_rate_target": false_alarm_rate,
            "own_good_images": {
                "teach": len(good) - n_eval - len(calibration) if refit_memory else 0,
                "calibrate": len(calibration),
                "evaluate": n_eval,
            },
            "own_defect_images": {"calibrate": len(bad_cal), "evaluate": len(bad_eval)},
            "before": before,
            "after": after,
            "note": "before/after are on held-out images of yours that set nothing",
        },
        "teaching": {"good_images": len(good) - n_eval - len(calibration)}
        if refit_memory
        else base.card.get("teaching", {}),
    }
    packed = model_bytes(adapted, work_dir)
    with store.session(caller) as session:
        sha = store_blob(session, packed, MEDIA_TYPE, f"adapted-{base.id}.tar")
        made = add_derived_version(session, base, sha, card)
    return {
        "model_version_id": made.id,
        "version": made.version,
        "base_version_id": base.id,
        "before": before,
        "after": after,
    }


def _report(store: Store, caller: Caller, job: Job, progress: float, message: str) -> None:
    with store.session(caller) as session:
        session.jobs.report(job.id, progress, message)
