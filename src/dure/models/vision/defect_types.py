"""Defect-type classifier: a linear head on pretrained texture embeddings, from few examples."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from torch import Tensor, nn

from dure.errors import InvalidInput, NotFittedError
from dure.models.vision.cards import digest, load_checked, read_card, write_card
from dure.models.vision.efficientnet_lite import EfficientNetLite, load_efficientnet_lite
from dure.models.vision.images import to_batch

FORMAT_VERSION = 1


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


class DefectTypeClassifier:
    """Names the defect type of an image; classes are whatever labels it was taught."""

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
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "coef_"):
            raise NotFittedError("the defect-type classifier is not taught: call fit first")

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


PARAMS = ("image_size", "stages", "variant", "regularisation", "flip_augment", "batch_size")


def save_classifier(
    model: DefectTypeClassifier, folder: Path, card: dict[str, object] | None = None
) -> Path:
    """Write the linear head as ``.npy`` files and ``card.json``; nothing is pickled."""
    model._check_fitted()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "head_coef.npy", model.coef_)
    np.save(folder / "head_intercept.npy", model.intercept_)
    doc = {
        "model": "defect-types",
        "format_version": FORMAT_VERSION,
        "params": {p: getattr(model, p) for p in PARAMS},
        "classes": model.classes_,
        "head_sha256": digest(model.coef_, model.intercept_),
        **(card or {}),
    }
    return write_card(folder, doc)


def load_classifier(folder: Path) -> DefectTypeClassifier:
    """Read a classifier written by ``save_classifier``, checking the head against its card."""
    doc = read_card(folder, "defect-types", FORMAT_VERSION, "defect-type classifier")
    params = dict(doc["params"])
    params["stages"] = tuple(params["stages"])
    model = DefectTypeClassifier(**params)
    model.coef_, model.intercept_ = load_checked(
        folder, "head_coef.npy", "head_intercept.npy", expected=doc["head_sha256"]
    )
    model.classes_ = list(doc["classes"])
    return model
