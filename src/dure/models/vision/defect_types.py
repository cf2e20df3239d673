"""Defect-type classifier: a linear head on pretrained texture embeddings, from few examples."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from torch import Tensor, nn

from dure.errors import InvalidInput, ModelFileError, NotFittedError
from dure.models.contract import Model, State, array_digest
from dure.models.registry import register
from dure.models.vision.efficientnet_lite import EfficientNetLite, load_efficientnet_lite
from dure.models.vision.images import to_batch


class TextureEmbedding(nn.Module):
    """Images (N, 3, H, W) in [0, 1] to one vector each: mean and spread of several stages.

    Surface defects are textures, so the spread of each channel over the image says as much
    as its mean; both are L2-normalised per stage so no stage dominates.
    """

    def __init__(self, backbone: EfficientNetLite, stages: tuple[int, ...]) -> None:
        super().__init__()
        self.backbone = backbone
        self.stages = stages

    def forward(self, images: Tensor) -> Tensor:
        x = (images - 0.5) / 0.5
        parts = []
        for fmap in self.backbone.stage_outputs(x, self.stages):
            flat = fmap.flatten(2)
            for stat in (flat.mean(dim=2), flat.std(dim=2)):
                parts.append(stat / (stat.norm(dim=1, keepdim=True) + 1e-6))
        return torch.cat(parts, dim=1)


@register
class DefectTypeClassifier(Model):
    """Names the defect type of an image; classes are whatever labels it was taught.

    ``score`` is how unlike every taught type an image looks (1 − the best class's
    probability): high for a defect of a kind nobody labelled yet. The linear head
    (``coef_``, ``intercept_``) is what federated rounds exchange.
    """

    kind = "defect-types"
    format_version = 2
    exchanged = ("head_coef", "head_intercept")

    def __init__(
        self,
        image_size: int = 224,
        stages: tuple[int, ...] = (5, 6, 7),
        variant: int = 0,
        regularisation: float = 1.0,
        flip_augment: bool = True,
        batch_size: int = 32,
    ) -> None:
        self.image_size = image_size
        self.stages = stages
        self.variant = variant
        self.regularisation = regularisation
        self.flip_augment = flip_augment
        self.batch_size = batch_size
        self._embedding: TextureEmbedding | None = None

    @property
    def embedding(self) -> TextureEmbedding:
        """The embedding module (built on first use)."""
        if self._embedding is None:
            backbone = load_efficientnet_lite(self.variant)
            self._embedding = TextureEmbedding(backbone, self.stages).eval()
        return self._embedding

    def embed(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """One embedding row per image."""
        parts = []
        module = self.embedding
        with torch.inference_mode():
            for start in range(0, len(images), self.batch_size):
                batch = to_batch(images[start : start + self.batch_size], self.image_size)
                parts.append(module(batch).numpy())
        if not parts:
            return np.zeros((0, 0), np.float32)
        return np.concatenate(parts)

    def _views(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The images and, with ``flip_augment``, their mirrors (defect types do not care)."""
        if not self.flip_augment:
            return list(images)
        out = list(images)
        for flip in (np.fliplr, np.flipud):
            out += [np.ascontiguousarray(flip(np.asarray(i))) for i in images]
        return out

    @property
    def n_views(self) -> int:
        """How many views of each image are embedded (the image and, maybe, two mirrors)."""
        return 3 if self.flip_augment else 1

    def embed_views(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Embeddings of every view, shaped (views, images, dims)."""
        if len(images) == 0:
            raise InvalidInput("images", "no images given")
        return self.embed(self._views(images)).reshape(self.n_views, len(images), -1)

    def fit(self, images: Sequence[np.ndarray], labels: Sequence[str]) -> DefectTypeClassifier:
        """Teach the classes in ``labels`` (at least two, each with at least one image)."""
        if len(images) != len(labels):
            raise InvalidInput("labels", f"{len(labels)} labels for {len(images)} images")
        return self.fit_embedded(self.embed_views(images), labels)

    def fit_embedded(self, views: np.ndarray, labels: Sequence[str]) -> DefectTypeClassifier:
        """Teach from embeddings given by ``embed_views`` (so folds can share one embedding)."""
        classes = sorted(set(labels))
        if len(classes) < 2:
            raise InvalidInput("labels", "teaching defect types needs at least two types")
        targets = np.array([classes.index(lab) for lab in labels] * views.shape[0])
        head = LogisticRegression(C=self.regularisation, max_iter=3000)
        head.fit(views.reshape(-1, views.shape[-1]), targets)
        self.classes_ = classes
        self.coef_ = head.coef_.astype(np.float32)
        self.intercept_ = head.intercept_.astype(np.float32)
        if len(classes) == 2:  # sklearn keeps one row for two classes; keep one per class
            self.coef_ = np.concatenate([-self.coef_ / 2, self.coef_ / 2])
            self.intercept_ = np.concatenate([-self.intercept_ / 2, self.intercept_ / 2])
        self.data_ = {
            "images": int(views.shape[1]),
            "per_class": {c: int(sum(1 for lab in labels if lab == c)) for c in classes},
        }
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError("the defect-type classifier is not taught: call fit first")

    def check_is_fitted(self) -> None:
        """Raise NotFittedError before the head is taught."""
        self._check_fitted()

    def predict_proba(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Probability of each class (columns in ``classes_`` order), mirrors averaged."""
        self._check_fitted()
        if len(images) == 0:
            return np.zeros((0, len(self.classes_)), np.float32)
        return self.proba_embedded(self.embed_views(images))

    def proba_embedded(self, views: np.ndarray) -> np.ndarray:
        """Class probabilities from ``embed_views`` output (logits averaged over views)."""
        self._check_fitted()
        logits = (views @ self.coef_.T + self.intercept_).mean(axis=0)
        logits -= logits.max(axis=1, keepdims=True)
        prob = np.exp(logits)
        return prob / prob.sum(axis=1, keepdims=True)

    def predict(self, images: Sequence[np.ndarray]) -> list[str]:
        """The most likely defect type of each image."""
        proba = self.predict_proba(images)
        return [self.classes_[i] for i in proba.argmax(axis=1)]

    def score(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """How unlike every taught type each image is: 1 − the best class's probability."""
        proba = self.predict_proba(images)
        return (1.0 - proba.max(axis=1)).astype(np.float64) if len(proba) else np.zeros(0)

    # ---- saving -------------------------------------------------------------------------
    def _state(self) -> State:
        self._check_fitted()
        return State(
            {"head_coef": self.coef_, "head_intercept": self.intercept_},
            {"classes": list(self.classes_)},
        )

    def _restore(self, state: State) -> None:
        self.coef_ = np.ascontiguousarray(state.arrays["head_coef"], dtype=np.float32)
        self.intercept_ = np.ascontiguousarray(state.arrays["head_intercept"], dtype=np.float32)
        self.classes_ = list(state.values["classes"])

    @classmethod
    def upgrade_card(cls, card: dict[str, Any], folder: Path) -> dict[str, Any]:
        """Read format 1 (before the model contract): one digest over both head arrays."""
        if card.get("kind") or card.get("model") != "defect-types":
            return card
        from dure.models.vision.cards import digest

        names = ("head_coef", "head_intercept")
        arrays = [np.load(Path(folder) / f"{n}.npy", allow_pickle=False) for n in names]
        if digest(*arrays) != card.get("head_sha256"):
            raise ModelFileError(f"{folder}/head_coef+head_intercept do not match its card")
        return {
            "kind": cls.kind,
            "format_version": 1,
            "params": card["params"],
            "data": {},
            "threshold": None,
            "arrays": {n: array_digest(a) for n, a in zip(names, arrays, strict=True)},
            "state": {"classes": card["classes"]},
        }
