"""A taught inspector: detector, threshold, optional defect-type classifier, ONNX scoring.

This is what a part's inspection model is once trained: one folder with the memory bank,
the exported scoring graph, the classifier head and a card, read back by ``load_inspector``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from dure.errors import NotFittedError
from dure.models.vision import patchcore
from dure.models.vision.defect_types import (
    DefectTypeClassifier,
    load_classifier,
    save_classifier,
)
from dure.models.vision.export import OnnxScorer, export_onnx
from dure.models.vision.metrics import image_auroc
from dure.models.vision.patchcore import PatchCore, Scores
from dure.models.vision.threshold import calibrate
from dure.models.vision.tiling import score_tiled

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Finding:
    """What the inspector says about one image.

    ``heatmap`` is the anomaly map at the image's own size, divided by the threshold, so
    1.0 and above marks where the part looks defective.
    """

    score: float
    threshold: float
    is_defect: bool
    defect_type: str | None
    type_confidence: float | None
    heatmap: np.ndarray


@dataclass
class TeachingSet:
    """Images to teach from: good ones, held-out good ones, and labelled defects."""

    good: list[np.ndarray]
    held_out_good: list[np.ndarray]
    defects: list[np.ndarray]
    defect_labels: list[str]
    good_names: list[str] = field(default_factory=list)


class Inspector:
    """Scores images with onnxruntime, decides with the threshold, names the defect type."""

    def __init__(
        self,
        detector: PatchCore,
        classifier: DefectTypeClassifier | None = None,
        onnx_path: Path | None = None,
        card: dict[str, Any] | None = None,
    ) -> None:
        if getattr(detector, "threshold_", None) is None:
            raise NotFittedError("an inspector needs a detector with a calibrated threshold")
        self.detector = detector
        self.classifier = classifier
        self.onnx_path = onnx_path
        self.card = card or {}
        self._scorer: OnnxScorer | None = None

    @property
    def threshold(self) -> float:
        """The decision threshold on image scores."""
        return float(self.detector.threshold_.value)

    def score(self, images: Sequence[np.ndarray]) -> Scores:
        """Image scores and maps, from the ONNX graph when there is one."""
        if self.onnx_path is None:
            return self.detector.score(images)
        if self._scorer is None:
            self._scorer = OnnxScorer(self.onnx_path, self.detector.image_size)
        tile = self.detector.tile
        if tile:
            return Scores(*score_tiled(self._scorer.score, images, tile, self.detector.image_size))
        return self._scorer.score(images)

    def inspect(
        self,
        images: Sequence[np.ndarray],
        names: Sequence[str] = (),
        threshold: float | None = None,
    ) -> list[Finding]:
        """A finding per image; the defect type is given only for images judged defective.

        ``threshold`` overrides the calibrated one (a user may choose another on the model
        card). Images unlike the taught ones raise InvalidInput naming the image (``names``).
        """
        self.detector.check(images, names)
        limit = self.threshold if threshold is None else float(threshold)
        scores = self.score(images)
        flagged = [i for i, s in enumerate(scores.image) if s >= limit]
        types: dict[int, tuple[str, float]] = {}
        if self.classifier is not None and flagged:
            proba = self.classifier.predict_proba([images[i] for i in flagged])
            for i, row in zip(flagged, proba, strict=True):
                best = int(row.argmax())
                types[i] = (self.classifier.classes_[best], float(row[best]))
        findings = []
        for i, image in enumerate(images):
            height, width = np.asarray(image).shape[:2]
            heat = Image.fromarray(scores.maps[i] / limit).resize((width, height), Image.BILINEAR)
            kind, confidence = types.get(i, (None, None))
            findings.append(
                Finding(
                    score=float(scores.image[i]),
                    threshold=limit,
                    is_defect=i in flagged,
                    defect_type=kind,
                    type_confidence=confidence,
                    heatmap=np.asarray(heat, dtype=np.float32),
                )
            )
        return findings


def teach(
    data: TeachingSet,
    detector_params: dict[str, Any] | None = None,
    false_alarm_rate: float = 0.01,
    min_per_type: int = 2,
    progress: Progress | None = None,
) -> Inspector:
    """Teach an inspector: memory bank from good images, threshold, defect-type head.

    The threshold comes from the held-out good images (to ``false_alarm_rate``), or to the
    best F1 when labelled defects exist. The classifier is taught when at least two defect
    types have ``min_per_type`` images each. The card records counts and evidence.
    """
    report = progress or (lambda share, step: None)
    if not data.good:
        raise ValueError("teaching needs good images")
    if not data.held_out_good:
        raise ValueError("teaching needs held-out good images to set the threshold")
    detector = PatchCore(**(detector_params or {}))
    detector.fit(data.good, lambda share, step: report(0.7 * share, step), data.good_names)
    report(0.72, "setting the threshold on held-out images")
    good_scores = detector.score(data.held_out_good).image
    bad_scores = detector.score(data.defects).image if data.defects else None
    detector.threshold_ = calibrate(good_scores, bad_scores, false_alarm_rate)
    card: dict[str, Any] = {
        "teaching": {
            "good_images": len(data.good),
            "held_out_good_images": len(data.held_out_good),
            "defect_images": len(data.defects),
        },
        "threshold": detector.threshold_.as_dict(),
        # held-out good scores over the threshold, in deciles: the reference for drift
        "reference_scores": reference_deciles(good_scores, detector.threshold_.value),
        # what a person choosing another threshold weighs: the held-out scores themselves
        "held_out_scores": held_out_scores(good_scores, bad_scores, data.defect_labels),
    }
    if bad_scores is not None:
        labels = np.r_[np.zeros(len(good_scores)), np.ones(len(bad_scores))]
        card["held_out_image_auroc"] = image_auroc(labels, np.r_[good_scores, bad_scores])
        card["held_out_note"] = (
            "defect images also set the best-F1 threshold, so this figure is optimistic"
        )
    classifier = None
    counts: dict[str, int] = {}
    for label in data.defect_labels:
        counts[label] = counts.get(label, 0) + 1
    usable = sorted(k for k, v in counts.items() if v >= min_per_type)
    card["defect_type_counts"] = counts
    if len(usable) >= 2:
        report(0.8, f"teaching {len(usable)} defect types")
        pairs = [(im, lab) for im, lab in zip(data.defects, data.defect_labels, strict=True)]
        chosen = [(im, lab) for im, lab in pairs if lab in usable]
        classifier = DefectTypeClassifier().fit([p[0] for p in chosen], [p[1] for p in chosen])
        card["defect_types"] = usable
    else:
        card["defect_types"] = []
        card["defect_types_note"] = (
            f"no classifier: it needs two or more defect types with {min_per_type}+ images each"
        )
    report(0.95, "ready to export")
    return Inspector(detector, classifier, None, card)


def held_out_scores(
    good: np.ndarray, defects: np.ndarray | None, labels: Sequence[str]
) -> dict[str, Any]:
    """Held-out image scores for the model card (6 significant digits, capped at 2,000)."""
    good_list = [float(f"{v:.6g}") for v in np.asarray(good, dtype=np.float64)[:2000]]
    bad = np.asarray(defects if defects is not None else [], dtype=np.float64)[:2000]
    return {
        "good": good_list,
        "defect": [float(f"{v:.6g}") for v in bad],
        "defect_labels": list(labels)[: len(bad)],
    }


def reference_deciles(scores: np.ndarray, threshold: float) -> dict[str, Any]:
    """Deciles of good images' scores divided by the threshold (11 edges, min to max)."""
    ratio = np.asarray(scores, dtype=np.float64) / threshold
    return {"deciles": np.quantile(ratio, np.linspace(0, 1, 11)).tolist(), "n": int(ratio.size)}


def save_inspector(inspector: Inspector, folder: Path) -> Path:
    """Write the inspector's folder: detector, ONNX graph, classifier head, card."""
    folder = Path(folder)
    patchcore.save(inspector.detector, folder / "detector")
    onnx_path = export_onnx(inspector.detector, folder / "detector" / "scoring.onnx")
    if inspector.classifier is not None:
        save_classifier(inspector.classifier, folder / "defect_types")
    card = {"format": "dure-inspector", "format_version": 1, **inspector.card}
    (folder / "card.json").write_text(json.dumps(card, indent=2))
    inspector.onnx_path = onnx_path
    return folder


def load_inspector(folder: Path) -> Inspector:
    """Read an inspector folder written by ``save_inspector``."""
    folder = Path(folder)
    card_path = folder / "card.json"
    if not card_path.exists():
        raise ValueError(f"{folder} is not an inspector folder (no card.json)")
    card = json.loads(card_path.read_text())
    if card.get("format") != "dure-inspector":
        raise ValueError(f"{folder} is not an inspector folder")
    detector = patchcore.load(folder / "detector")
    classifier = None
    if (folder / "defect_types").is_dir():
        classifier = load_classifier(folder / "defect_types")
    onnx_path = folder / "detector" / "scoring.onnx"
    return Inspector(detector, classifier, onnx_path if onnx_path.exists() else None, card)
