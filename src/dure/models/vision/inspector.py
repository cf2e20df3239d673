"""A taught inspector: detector, threshold, optional defect-type head, ONNX scoring graph.

This is what a part's inspection model is once trained. Teaching exports the detector's
scoring path to ONNX and sets the threshold on scores from that graph, so the numbers a
line sees (onnxruntime, no torch needed) are the numbers the threshold was chosen on.
Saved, it is one folder: the detector and the defect-type head as sub-models, the graph,
and a card with what teaching found (the ``report_``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dure.errors import ModelFileError, NotFittedError
from dure.models.contract import Model, State, jsonable
from dure.models.registry import register
from dure.models.threshold import Threshold, calibrate
from dure.models.vision.defect_types import DefectTypeClassifier
from dure.models.vision.export import onnx_bytes
from dure.models.vision.metrics import image_auroc
from dure.models.vision.patchcore import PatchCore
from dure.models.vision.pixels import heat_at
from dure.models.vision.regions import Region, find_regions
from dure.models.vision.scoring import OnnxScorer, Scores
from dure.models.vision.tiling import score_tiled

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Finding:
    """What the inspector says about one image.

    ``heatmap`` is the anomaly map at the image's own size, divided by the map level
    (the level that held-out good images' maps stay under), so 1.0 and above marks where
    the part looks defective.
    """

    score: float
    threshold: float
    is_defect: bool
    defect_type: str | None
    type_confidence: float | None
    heatmap: np.ndarray
    regions: list[Region] = field(default_factory=list)


@dataclass(frozen=True)
class Calibration:
    """A threshold and the held-out scores it was set on."""

    threshold: Threshold
    good_scores: np.ndarray
    defect_scores: np.ndarray | None


@dataclass
class TeachingSet:
    """Images to teach from: good ones, held-out good ones, and labelled defects."""

    good: list[np.ndarray]
    held_out_good: list[np.ndarray]
    defects: list[np.ndarray]
    defect_labels: list[str]
    good_names: list[str] = field(default_factory=list)


@register
class Inspector(Model):
    """Scores images with onnxruntime, decides with the threshold, names the defect type.

    ``fit`` teaches from a ``TeachingSet``: the memory bank from good images, the graph,
    the threshold from held-out good images (to ``false_alarm_rate``, or best F1 when
    labelled defects exist), and the defect-type head when at least two types have
    ``min_per_type`` images each.
    """

    kind = "inspector"
    format_version = 2

    def __init__(
        self,
        detector_params: dict[str, Any] | None = None,
        false_alarm_rate: float = 0.01,
        min_per_type: int = 2,
    ) -> None:
        self.detector_params = detector_params
        self.false_alarm_rate = false_alarm_rate
        self.min_per_type = min_per_type
        self._scorer: OnnxScorer | None = None

    # ---- teaching ---------------------------------------------------------------------
    def fit(self, data: TeachingSet, progress: Progress | None = None) -> Inspector:
        """Teach from good, held-out good and labelled defect images."""
        report = progress or (lambda share, step: None)
        if not data.good:
            raise ValueError("teaching needs good images")
        if not data.held_out_good:
            raise ValueError("teaching needs held-out good images to set the threshold")
        detector = PatchCore(**(self.detector_params or {}))
        detector.fit(data.good, lambda share, step: report(0.7 * share, step), data.good_names)
        report(0.72, "exporting the scoring graph")
        self._set_parts(detector, None)
        report(0.75, "setting the threshold on held-out images")
        held_out = self.score(data.held_out_good)
        good_scores = held_out.image
        bad_scores = self.score(data.defects).image if data.defects else None
        detector.threshold_ = calibrate(good_scores, bad_scores, self.false_alarm_rate)
        found: dict[str, Any] = {
            "map_level": map_level(held_out.maps, self.false_alarm_rate),
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
            found["held_out_image_auroc"] = image_auroc(labels, np.r_[good_scores, bad_scores])
            found["held_out_note"] = (
                "defect images also set the best-F1 threshold, so this figure is optimistic"
            )
        counts: dict[str, int] = {}
        for label in data.defect_labels:
            counts[label] = counts.get(label, 0) + 1
        usable = sorted(k for k, v in counts.items() if v >= self.min_per_type)
        found["defect_type_counts"] = counts
        classifier = None
        if len(usable) >= 2:
            report(0.8, f"teaching {len(usable)} defect types")
            pairs = zip(data.defects, data.defect_labels, strict=True)
            chosen = [(im, lab) for im, lab in pairs if lab in usable]
            classifier = DefectTypeClassifier().fit([p[0] for p in chosen], [p[1] for p in chosen])
            found["defect_types"] = usable
        else:
            found["defect_types"] = []
            found["defect_types_note"] = (
                f"no classifier: it needs two or more defect types with {self.min_per_type}+ "
                "images each"
            )
        self.classifier_ = classifier
        self.report_ = found
        self.data_ = dict(found["teaching"])
        report(0.95, "ready to save")
        return self

    @classmethod
    def assemble(
        cls,
        detector: PatchCore,
        classifier: DefectTypeClassifier | None,
        report: dict[str, Any] | None = None,
        false_alarm_rate: float = 0.01,
        graph: bytes | None = None,
    ) -> Inspector:
        """An inspector from parts fitted elsewhere (adaptation, federated rounds).

        ``graph`` reuses an exported scoring graph of the same memory bank.
        """
        detector.check_is_fitted()
        inspector = cls(jsonable(detector.get_params()), false_alarm_rate)
        inspector._set_parts(detector, classifier, graph)
        inspector.report_ = dict(report or {})
        inspector.data_ = dict(detector.data_)
        return inspector

    def _set_parts(
        self,
        detector: PatchCore,
        classifier: DefectTypeClassifier | None,
        graph: bytes | None = None,
    ) -> None:
        self.detector_ = detector
        self.classifier_ = classifier
        self.graph_ = graph or onnx_bytes(detector)
        self._scorer = None

    def calibrate(
        self,
        good_images: Sequence[np.ndarray],
        defect_images: Sequence[np.ndarray] = (),
        false_alarm_rate: float | None = None,
    ) -> Calibration:
        """Set the threshold from good images (and labelled defects) scored by the graph."""
        held_out = self.score(good_images)
        good = held_out.image
        bad = self.score(defect_images).image if len(defect_images) else None
        rate = self.false_alarm_rate if false_alarm_rate is None else false_alarm_rate
        self.detector_.threshold_ = calibrate(good, bad, rate)
        self.report_ = {**getattr(self, "report_", {}), "map_level": map_level(held_out.maps, rate)}
        return Calibration(self.detector_.threshold_, good, bad)

    # ---- using it -----------------------------------------------------------------------
    @property
    def threshold_(self) -> Threshold:
        """The calibrated threshold (the detector's)."""
        threshold = getattr(self.detector_, "threshold_", None)
        if threshold is None:
            raise NotFittedError("the inspector has no threshold: teach or calibrate it")
        return threshold  # type: ignore[no-any-return]

    @property
    def threshold(self) -> float:
        """The decision threshold on image scores."""
        return float(self.threshold_.value)

    @property
    def map_level(self) -> float:
        """The anomaly-map value that marks a pixel defective: what held-out good images'
        maps stay under (at the false-alarm rate). Maps and image scores come from
        different feature windows, so the image threshold would mark too much; models
        taught before the level was kept use the image threshold."""
        level = getattr(self, "report_", {}).get("map_level")
        return float(level) if level else self.threshold

    def score(self, images: Sequence[np.ndarray]) -> Scores:
        """Image scores and maps from the ONNX graph (tiles stitched when the detector tiles)."""
        self.check_is_fitted()
        if self._scorer is None:
            self._scorer = OnnxScorer(self.graph_, self.detector_.input_shape_)
        tile = self.detector_.tile
        if tile:
            return Scores(*score_tiled(self._scorer.score, images, tile, self.detector_.map_shape_))
        return self._scorer.score(images)

    def predict(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """1 for images at or over the threshold, else 0."""
        return (self.score(images).image >= self.threshold).astype(np.int64)

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
        self.detector_.check(images, names)
        limit = self.threshold if threshold is None else float(threshold)
        level = self.map_level
        scores = self.score(images)
        flagged = [i for i, s in enumerate(scores.image) if s >= limit]
        types: dict[int, tuple[str, float]] = {}
        if self.classifier_ is not None and flagged:
            proba = self.classifier_.predict_proba([images[i] for i in flagged])
            for i, row in zip(flagged, proba, strict=True):
                best = int(row.argmax())
                types[i] = (self.classifier_.classes_[best], float(row[best]))
        findings = []
        for i, image in enumerate(images):
            height, width = np.asarray(image).shape[:2]
            kind, confidence = types.get(i, (None, None))
            heatmap = heat_at(scores.maps[i], level, height, width)
            findings.append(
                Finding(
                    score=float(scores.image[i]),
                    threshold=limit,
                    is_defect=i in flagged,
                    defect_type=kind,
                    type_confidence=confidence,
                    heatmap=heatmap,
                    regions=find_regions(heatmap, i in flagged),
                )
            )
        return findings

    # ---- saving -------------------------------------------------------------------------
    def _state(self) -> State:
        self.check_is_fitted()
        children: dict[str, Model] = {"detector": self.detector_}
        if self.classifier_ is not None:
            children["defect_types"] = self.classifier_
        return State(
            values={"report": self.report_},
            blobs={"scoring.onnx": self.graph_},
            children=children,
        )

    def _restore(self, state: State) -> None:
        detector = state.children["detector"]
        classifier = state.children.get("defect_types")
        if not isinstance(detector, PatchCore):
            raise ModelFileError("an inspector's detector must be a PatchCore model")
        if classifier is not None and not isinstance(classifier, DefectTypeClassifier):
            raise ModelFileError("an inspector's defect_types must be a defect-type head")
        self.detector_ = detector
        self.classifier_ = classifier
        self.graph_ = state.blobs["scoring.onnx"]
        self.report_ = dict(state.values.get("report") or {})
        self._scorer = None

    @classmethod
    def load(cls, folder: Path) -> Inspector:
        """An inspector folder; one written before the model contract is read too."""
        card = json.loads((Path(folder) / "card.json").read_text())
        if card.get("format") == "dure-inspector":
            return _load_legacy(folder, card)
        return super().load(folder)


def _load_legacy(folder: Path, card: dict[str, Any]) -> Inspector:
    """Format 1: detector/ (with scoring.onnx inside), defect_types/, card.json of the report."""
    folder = Path(folder)
    detector = PatchCore.load(folder / "detector")
    classifier = None
    if (folder / "defect_types").is_dir():
        classifier = DefectTypeClassifier.load(folder / "defect_types")
    inspector = Inspector(jsonable(detector.get_params()))
    inspector.detector_ = detector
    inspector.classifier_ = classifier
    graph = folder / "detector" / "scoring.onnx"
    inspector.graph_ = graph.read_bytes() if graph.is_file() else onnx_bytes(detector)
    inspector.report_ = {k: v for k, v in card.items() if k not in ("format", "format_version")}
    inspector.data_ = dict(inspector.report_.get("teaching") or {})
    return inspector


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


def map_level(maps: np.ndarray, false_alarm_rate: float) -> float:
    """The level good images' anomaly maps stay under: the (1 − rate) quantile of each
    held-out good map's peak (the highest peak when there are few)."""
    peaks = np.asarray(maps, dtype=np.float64).reshape(len(maps), -1).max(axis=1)
    return float(np.quantile(peaks, 1.0 - false_alarm_rate, method="higher"))


def reference_deciles(scores: np.ndarray, threshold: float) -> dict[str, Any]:
    """Deciles of good images' scores divided by the threshold (11 edges, min to max)."""
    ratio = np.asarray(scores, dtype=np.float64) / threshold
    return {"deciles": np.quantile(ratio, np.linspace(0, 1, 11)).tolist(), "n": int(ratio.size)}
