"""Local adaptation of a shared model on a supplier's own images; nothing leaves the install.

The supplier recalibrates the threshold on its own good images and, if asked, rebuilds the
memory bank from them (the defect-type head stays the OEM's). The result is a new local
version whose lineage names the base; false-alarm and miss rates on the supplier's own
held-out images before and after are kept on its card.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from dure.domain.model_versions import ModelVersion
from dure.domain.users import Caller, Role
from dure.errors import Forbidden, InvalidInput
from dure.models.vision.inspector import Inspector, reference_deciles
from dure.models.vision.metrics import image_auroc
from dure.models.vision.patchcore import PatchCore
from dure.services.collaboration.context import Collab
from dure.services.inspection.inspect import usable_model
from dure.services.inspection.records import store_blob
from dure.services.inspection.teaching import add_derived_version, decode, labelled_of_part
from dure.services.platform.model_files import MEDIA_TYPE, InspectorCache, model_bytes


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


def adapt(
    ctx: Collab,
    caller: Caller,
    version_id: str,
    refit_memory: bool = False,
    false_alarm_rate: float = 0.01,
    seed: int = 0,
) -> ModelVersion:
    """Make a local version of a (shared) model from our own labelled images of its part."""
    if not caller.can(Role.ENGINEER):
        raise Forbidden("adapting a model needs the engineer role or higher")
    if not 0 < false_alarm_rate < 0.5:
        raise InvalidInput("false_alarm_rate", "between 0 and 0.5")
    if not 0 <= seed < 2**32:
        raise InvalidInput("seed", "a whole number from 0 to 4294967295")
    with ctx.store.session(caller) as session:
        base = usable_model(session, version_id)
        if base.org_id != caller.org_id:
            raise Forbidden("adapt a model you imported, not one you only read")
        images = labelled_of_part(session, base.part_id or "")
    good = [i for i in images if i["label"] == "good"]
    bad = [i for i in images if i["label"] != "good"]
    need = 12 if refit_memory else 6
    if len(good) < need:
        raise InvalidInput(
            "images",
            f"adapting needs at least {need} of your own good images; you have {len(good)}",
        )
    order = np.random.default_rng(seed).permutation(len(good))
    good = [good[i] for i in order]
    n_eval = max(3, len(good) // 3)
    evaluate = [decode(ctx.store, i) for i in good[:n_eval]]
    rest = good[n_eval:]
    cache = InspectorCache(ctx.store.blobs, ctx.work_dir / "adapt-models")
    inspector = cache.get(base.blob_sha256 or "")
    bad_images = [decode(ctx.store, i) for i in bad]
    half = len(bad_images) // 2
    bad_cal, bad_eval = bad_images[:half], bad_images[half:]
    before = _rates(inspector, evaluate, bad_eval)
    if refit_memory:
        n_cal = max(3, len(rest) // 3)
        calibration = [decode(ctx.store, i) for i in rest[:n_cal]]
        teach = [decode(ctx.store, i) for i in rest[n_cal:]]
        detector = PatchCore(**inspector.detector_.get_params()).fit(teach)
        adapted = Inspector.assemble(detector, inspector.classifier_, inspector.report_)
    else:
        calibration = [decode(ctx.store, i) for i in rest]
        # the base model stays as it is (it is cached and in use): a copy gets the threshold
        detector = copy.copy(inspector.detector_)
        adapted = Inspector.assemble(
            detector, inspector.classifier_, inspector.report_, graph=inspector.graph_
        )
    calibrated = adapted.calibrate(calibration, bad_cal, false_alarm_rate)
    after = _rates(adapted, evaluate, bad_eval)
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
    packed = model_bytes(adapted, ctx.work_dir)
    with ctx.store.session(caller) as session:
        sha = store_blob(session, packed, MEDIA_TYPE, f"adapted-{base.id}.tar")
        return add_derived_version(session, base, sha, card)
