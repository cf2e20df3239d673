"""Inspection models of a part: create one, train it in the background, keep its card."""

from __future__ import annotations

import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dure.domain.jobs import Job, JobKind
from dure.domain.model_versions import ModelVersion
from dure.domain.users import Caller
from dure.errors import Conflict, Forbidden, InvalidInput, StateConflict
from dure.ingest.images import decode_image
from dure.models.vision.inspector import Inspector, TeachingSet
from dure.services.inspection.records import store_blob
from dure.services.platform.model_files import MEDIA_TYPE, pack_folder
from dure.store.session import Session, Store

TASK = "visual-inspection"
MIN_GOOD_IMAGES = 5
HELD_OUT_SHARE = 0.2
MAX_HELD_OUT = 50


@dataclass(frozen=True)
class TrainingSettings:
    """What a user may choose when creating an inspection model (defaults suit most parts)."""

    image_size: int = 256
    coreset_ratio: float = 0.1
    false_alarm_rate: float = 0.01
    seed: int = 0
    tile: int | None = None

    def check(self) -> None:
        """Raise InvalidInput naming the first setting out of range."""
        if not 64 <= self.image_size <= 1024 or self.image_size % 32:
            raise InvalidInput("image_size", "use a multiple of 32 between 64 and 1024")
        if not 0 < self.coreset_ratio <= 1:
            raise InvalidInput("coreset_ratio", "use a share above 0 and at most 1")
        if not 0 < self.false_alarm_rate < 0.5:
            raise InvalidInput("false_alarm_rate", "use a rate above 0 and below 0.5")
        if self.tile is not None and not 64 <= self.tile <= 4096:
            raise InvalidInput("tile", "use a tile side between 64 and 4096 pixels, or none")


def create_inspection_model(
    session: Session,
    part_id: str,
    name: str | None = None,
    settings: TrainingSettings | None = None,
) -> ModelVersion:
    """A new draft inspection model (next version of ``name``) for one of the caller's parts."""
    settings = settings or TrainingSettings()
    settings.check()
    repo = session.model_versions
    repo.require_write()
    part = session.parts.own(part_id, "part_id")
    name = name or f"inspection {part.number}"
    return repo.add(
        ModelVersion(
            org_id=session.caller.org_id,
            name=name,
            version=repo.next_version(name),
            task=TASK,
            part_id=part_id,
            card={"settings": asdict(settings)},
        )
    )


def add_derived_version(
    session: Session, base: ModelVersion, blob_sha256: str, card: dict[str, Any]
) -> ModelVersion:
    """A ready next version of ``base`` (same name, task and part) whose lineage names it."""
    return session.model_versions.add(
        ModelVersion(
            org_id=session.caller.org_id,
            name=base.name,
            version=session.model_versions.next_version(base.name),
            task=base.task,
            part_id=base.part_id,
            blob_sha256=blob_sha256,
            card=card,
            base_version_id=base.id,
            status="ready",
        )
    )


def queue_training(session: Session, model_id: str) -> Job:
    """Queue a training job for a draft (or failed) inspection model of the caller."""
    model = own_inspection_model(session, model_id)
    if model.status not in ("draft", "failed"):
        raise Conflict(f"model {model_id} is {model.status}; create a new version to train again")
    images = labelled_of_part(session, model.part_id or "")
    good = sum(1 for i in images if i["label"] == "good")
    if good < MIN_GOOD_IMAGES:
        raise InvalidInput(
            "part_id",
            f"the part has {good} good labelled images; teaching needs at least "
            f"{MIN_GOOD_IMAGES}; import some with `dure import images`",
        )
    session.model_versions.update_fields(model_id, status="queued")
    return session.jobs.add(
        Job(
            org_id=session.caller.org_id,
            kind=JobKind.TRAIN_INSPECTION_MODEL,
            subject_id=model_id,
            created_by=session.caller.user_id,
        )
    )


def own_inspection_model(session: Session, model_id: str) -> ModelVersion:
    """One of the caller's own inspection models, or InvalidInput saying why not."""
    model = session.model_versions.get(model_id)
    if model.org_id != session.caller.org_id:
        raise Forbidden(f"model {model_id} is shared with you; only its owner trains it")
    if model.task != TASK:
        raise StateConflict("model_id", f"model {model_id} is a {model.task} model, not {TASK}")
    return model


def labelled_of_part(session: Session, part_id: str) -> list[dict[str, Any]]:
    """The caller's labelled images of a part, in a stable order (name, then id)."""
    found = session.labelled_images.list_all(part_id=part_id)
    found.sort(key=lambda i: (i.source_name, i.id))
    return [
        {
            "id": i.id,
            "image_sha256": i.image_sha256,
            "label": i.label,
            "split": i.split,
            "source_name": i.source_name,
        }
        for i in found
    ]


class _Reporter:
    """Writes job progress in its own short transactions, at most twice a second."""

    def __init__(self, store: Store, caller: Caller, job_id: str) -> None:
        self.store, self.caller, self.job_id = store, caller, job_id
        self._last = 0.0

    def __call__(self, share: float, step: str) -> None:
        now = time.monotonic()
        if now - self._last < 0.5 and share < 1:
            return
        self._last = now
        with self.store.session(self.caller) as s:
            s.jobs.report(self.job_id, share, step)


def run_training(store: Store, caller: Caller, job: Job, work_root: Path) -> dict[str, Any]:
    """Teach the job's model from the part's labelled images; store it as a blob and mark it ready.

    Returns the job's result. Any error leaves the model ``failed`` (the caller of this
    function records the job's failure); nothing half-trained is ever marked ready.
    """
    model_id = job.subject_id
    with store.session(caller) as s:
        model = own_inspection_model(s, model_id)
        s.model_versions.update_fields(model_id, status="training")
        images = labelled_of_part(s, model.part_id or "")
    try:
        settings = TrainingSettings(**model.card.get("settings", {}))
        report = _Reporter(store, caller, job.id)
        report(0.0, f"reading {len(images)} labelled images")
        teaching = teaching_set(store, images, settings.seed)
        started = time.perf_counter()
        inspector = Inspector(
            {
                "image_size": settings.image_size,
                "coreset_ratio": settings.coreset_ratio,
                "random_state": settings.seed,
                "tile": settings.tile,
            },
            settings.false_alarm_rate,
        ).fit(teaching, progress=lambda share, step: report(0.05 + 0.85 * share, step))
        seconds = time.perf_counter() - started
        report(0.92, "saving the model")
        with tempfile.TemporaryDirectory(dir=_mkdir(work_root)) as folder:
            inspector.save(Path(folder))
            packed = pack_folder(Path(folder))
        card = {**model.card, **inspector.report_, "train_seconds": round(seconds, 2)}
        with store.session(caller) as s:
            sha = store_blob(s, packed, MEDIA_TYPE, f"model-{model_id}.tar")
            s.model_versions.update_fields(model_id, blob_sha256=sha, card=card, status="ready")
    except Exception:
        with store.session(caller) as s:
            s.model_versions.update_fields(model_id, status="failed")
        raise
    return {
        "model_id": model_id,
        "blob_sha256": sha,
        "threshold": card["threshold"]["value"],
        "defect_types": card["defect_types"],
        "train_seconds": card["train_seconds"],
    }


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def teaching_set(store: Store, images: list[dict[str, Any]], seed: int) -> TeachingSet:
    """The labelled images as a teaching set: good ones to learn from, held-out good ones
    (the ``test`` split, else a seeded share) for the threshold, and the defects."""
    good_train = [i for i in images if i["label"] == "good" and i["split"] == "train"]
    good_test = [i for i in images if i["label"] == "good" and i["split"] != "train"]
    if not good_test:  # hold out a seeded share of the good images for the threshold
        order = np.random.default_rng(seed).permutation(len(good_train))
        n_out = min(max(int(round(HELD_OUT_SHARE * len(good_train))), 1), MAX_HELD_OUT)
        good_test = [good_train[k] for k in order[:n_out]]
        good_train = [good_train[k] for k in order[n_out:]]
    defects = [i for i in images if i["label"] != "good"]
    return TeachingSet(
        good=[decode(store, i) for i in good_train],
        held_out_good=[decode(store, i) for i in good_test],
        defects=[decode(store, i) for i in defects],
        defect_labels=[i["label"] for i in defects],
        good_names=[i["source_name"] or i["id"] for i in good_train],
    )


def decode(store: Store, image: dict[str, Any]) -> np.ndarray:
    """A stored labelled image as an array, or InvalidInput naming it."""
    return decode_image(store.blobs.get(image["image_sha256"]), image["source_name"])
