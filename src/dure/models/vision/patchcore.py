"""PatchCore anomaly detection: a coreset memory bank of normal patch features, k-NN scores."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np
import torch
import torch.nn.functional as F

from dure.errors import ModelFileError, NotFittedError
from dure.models.contract import Model, State, array_digest
from dure.models.registry import register
from dure.models.threshold import calibrate
from dure.models.vision.coreset import greedy_coreset
from dure.models.vision.efficientnet_lite import load_efficientnet_lite, stage_stride
from dure.models.vision.features import PatchFeatures
from dure.models.vision.images import (
    ImageSpec,
    check_against,
    input_shape,
    learn_spec,
    to_batch,
)
from dure.models.vision.scoring import Scores
from dure.models.vision.tiling import all_tiles, score_tiled

__all__ = ["PatchCore", "Scores"]

#: The coreset is chosen from at most this many patches (a seeded even draw): the fine
#: grid of the map's stages gives four times the patches of the image's.
MAX_COVERED = 100_000
#: Dimensions of the random projection the map bank's coreset is chosen in (its patches
#: are many and cheap to tell apart; the image bank keeps the coreset's default).
MAP_PROJECTION = 64


@register
class PatchCore(Model):
    """Anomaly detector taught from good images only.

    ``neighbourhood`` None lets ``fit`` choose the feature averaging window from the
    number of good images (learned as ``neighbourhood_``). With ``keep_aspect`` images are
    taken at about ``image_size``² pixels in the training images' own aspect
    (``input_shape_``), so a long part is not squashed; maps come back in that shape.
    The anomaly map comes from ``map_stages`` (None: the image stages) averaged over
    ``map_neighbourhood`` cells (None: the image window), with its own memory bank of at
    most ``max_map_bank`` patches (its grid is finer: a smaller bank keeps inspection fast).
    """

    kind = "patchcore"
    format_version = 3

    def __init__(
        self,
        image_size: int = 256,
        stages: tuple[int, ...] = (5, 6),
        coreset_ratio: float = 0.1,
        max_bank: int = 5_000,
        neighbourhood: int | None = None,
        k: int = 1,
        blur_sigma: float = 4.0,
        variant: int = 0,
        random_state: int = 0,
        batch_size: int = 16,
        standardise: bool = False,
        flip_augment: bool = False,
        tile: int | None = None,
        map_neighbourhood: int | None = 1,
        keep_aspect: bool = True,
        map_stages: tuple[int, ...] | None = (3, 4),
        max_map_bank: int = 2_000,
    ) -> None:
        self.image_size = image_size
        self.stages = stages
        self.coreset_ratio = coreset_ratio
        self.max_bank = max_bank
        self.neighbourhood = neighbourhood
        self.k = k
        self.blur_sigma = blur_sigma
        self.variant = variant
        self.random_state = random_state
        self.batch_size = batch_size
        self.standardise = standardise
        self.flip_augment = flip_augment
        self.tile = tile
        self.map_neighbourhood = map_neighbourhood
        self.keep_aspect = keep_aspect
        self.map_stages = map_stages
        self.max_map_bank = max_map_bank
        self._features: PatchFeatures | None = None
        self._index: faiss.Index | None = None
        self._map_index: faiss.Index | None = None

    @staticmethod
    def auto_neighbourhood(n_images: int, grid_side: int = 16) -> int:
        """Window of the feature averaging of the image score, on a feature grid whose
        short side is ``grid_side`` cells (``n_images``, the training set's size, is kept
        for callers; the window no longer depends on it).

        A regional window: 9 cells of magnetic-tile's 16-cell grid at 256 px, the same
        share of any other grid's short side, so a long part's narrow grid is not
        averaged across its whole width. It was chosen on validation data (held-out good
        tiles and synthetic defects, ``dure bench vision --choose``) for all training
        sizes, 8 images included; an earlier local 3×3 window under 32 images had been
        chosen on the test split and did not survive.
        """
        del n_images
        return max(3, 2 * round((9 * grid_side / 16 - 1) / 2) + 1)

    @property
    def features(self) -> PatchFeatures:
        """The feature module (built on first use, once the window is known)."""
        if self._features is None:
            window = getattr(self, "neighbourhood_", None) or self.neighbourhood
            if window is None:
                raise NotFittedError("the neighbourhood is chosen by fit: fit first")
            self._features = PatchFeatures(
                load_efficientnet_lite(self.variant),
                self.stages,
                int(window),
                self.standardise,
                self.map_stages,
                self.map_neighbourhood,
            ).eval()
        return self._features

    def embed(
        self, images: Sequence[np.ndarray], progress: Callable[[float], None] | None = None
    ) -> tuple[torch.Tensor, ...]:
        """Patch-feature blocks (N, C, h, w) of a list of images: the image score's, then
        the map's when it has its own; ``progress`` gets the share done."""
        parts: list[tuple[torch.Tensor, ...]] = []
        features = self.features  # built outside inference mode, so it can be exported
        with torch.inference_mode():
            for start in range(0, len(images), self.batch_size):
                batch = to_batch(images[start : start + self.batch_size], self.input_shape_)
                parts.append(features(batch))
                if progress is not None:
                    progress(min(start + self.batch_size, len(images)) / len(images))
        return tuple(torch.cat(blocks) for blocks in zip(*parts, strict=True))

    def fit(
        self,
        images: Sequence[np.ndarray],
        progress: Callable[[float, str], None] | None = None,
        names: Sequence[str] = (),
    ) -> PatchCore:
        """Build the memory bank from good images; ``progress`` gets (share done, step).

        ``names`` (one per image) make errors about a bad image name it.
        """
        if len(images) == 0:
            raise ValueError("fit needs at least one good image")
        report = progress or (lambda share, step: None)
        self.image_spec_ = learn_spec(images, names)
        kept = input_shape(self.image_spec_, self.image_size)
        square = (self.image_size, self.image_size)
        self.map_shape_ = kept if self.keep_aspect else square
        self.input_shape_ = square if self.tile else self.map_shape_
        grid_side = min(self.input_shape_) // stage_stride(min(self.stages))
        self.neighbourhood_ = self.neighbourhood or self.auto_neighbourhood(len(images), grid_side)
        self._features = None
        self.data_ = {"good_images": len(images)}
        if self.tile:  # every tile at native resolution is a training image
            images = all_tiles(images, self.tile)
        if self.flip_augment:  # mirrored parts are still good parts
            images = [*images, *(np.ascontiguousarray(np.fliplr(np.asarray(i))) for i in images)]
        blocks = self.embed(images, lambda share: report(0.8 * share, "reading good images"))
        self.grid_ = tuple(blocks[0].shape[-2:])
        banks = []
        rng = np.random.default_rng(self.random_state)
        for number, block in enumerate(blocks):
            flat = block.permute(0, 2, 3, 1).reshape(-1, block.shape[1]).numpy()
            most = self.max_map_bank if number else self.max_bank
            n_select = min(max(int(len(flat) * self.coreset_ratio), 1), most)
            if number and len(flat) > MAX_COVERED:  # the map's fine grid: bound the work
                flat = flat[np.sort(rng.choice(len(flat), MAX_COVERED, replace=False))]
            report(0.8, f"choosing {n_select:,} of {len(flat):,} patches for the memory bank")
            projection = {"projection_dim": MAP_PROJECTION} if number else {}
            idx = greedy_coreset(flat, n_select, self.random_state, **projection)
            banks.append(np.ascontiguousarray(flat[idx], dtype=np.float32))
        report(1.0, "memory bank ready")
        self.memory_bank_ = banks[0]
        self.map_bank_ = banks[1] if len(banks) > 1 else None
        self._index = self._map_index = None
        return self

    def calibrate(
        self,
        good_images: Sequence[np.ndarray],
        defect_images: Sequence[np.ndarray] = (),
        false_alarm_rate: float = 0.01,
    ) -> PatchCore:
        """Set ``threshold_`` from held-out good images (and labelled defects if any)."""
        good = self.score(good_images).image
        bad = self.score(defect_images).image if len(defect_images) else None
        self.threshold_ = calibrate(good, bad, false_alarm_rate)
        return self

    def _knn(self) -> faiss.Index:
        if not hasattr(self, "memory_bank_"):
            raise NotFittedError("PatchCore is not fitted: call fit with good images first")
        if self._index is None:
            self._index = _flat_index(self.memory_bank_)
        return self._index

    def _map_knn(self) -> faiss.Index | None:
        if getattr(self, "map_bank_", None) is None:
            return None
        if self._map_index is None:
            self._map_index = _flat_index(self.map_bank_)
        return self._map_index

    def check(self, images: Sequence[np.ndarray], names: Sequence[str] = ()) -> None:
        """Raise InvalidInput for an image unlike the training images (grey/colour, depth, size)."""
        self._knn()
        if self.image_spec_ is not None:  # models saved before specs were kept have none
            check_against(self.image_spec_, images, names)

    def score(self, images: Sequence[np.ndarray]) -> Scores:
        """Image scores and per-pixel anomaly maps at ``map_shape_`` (stitched from tiles)."""
        self.check(images)
        if self.tile:
            return Scores(*score_tiled(self.score_squares, images, self.tile, self.map_shape_))
        return self.score_squares(images)

    def predict(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """1 for images scored at or above the calibrated threshold, else 0."""
        threshold = getattr(self, "threshold_", None)
        if threshold is None:
            raise NotFittedError("the detector has no threshold yet: calibrate it on good images")
        return (self.score(images).image >= threshold.value).astype(np.int64)

    def score_squares(self, images: Sequence[np.ndarray]) -> Scores:
        """Scores and maps of whole images, each scaled to ``input_shape_`` (no tiling)."""
        index = self._knn()
        chunk = max(self.batch_size, 1) * 4  # bounds memory on large test sets
        image_scores = np.empty(len(images), dtype=np.float64)
        maps = np.empty((len(images), *self.input_shape_), dtype=np.float32)
        map_index = self._map_knn()
        for start in range(0, len(images), chunk):
            part = images[start : start + chunk]
            blocks = self.embed(part)
            patch = self._patch_distances(index, blocks[0])
            n = patch.shape[0]
            image_scores[start : start + n] = patch.reshape(n, -1).max(axis=1)
            if map_index is not None:
                patch = self._patch_distances(map_index, blocks[1])
            up = F.interpolate(
                torch.from_numpy(patch),
                size=self.input_shape_,
                mode="bilinear",
                align_corners=False,
            )
            maps[start : start + n] = _gaussian_blur(up, self.blur_sigma)[:, 0].numpy()
        return Scores(image_scores, maps)

    def _patch_distances(self, index: faiss.Index, feats: torch.Tensor) -> np.ndarray:
        n, c, h, w = feats.shape
        flat = np.ascontiguousarray(feats.permute(0, 2, 3, 1).reshape(-1, c).numpy())
        dist, _ = index.search(flat, self.k)
        return np.sqrt(np.maximum(dist.mean(axis=1), 0)).reshape(n, 1, h, w)

    # ---- saving -------------------------------------------------------------------------
    def _state(self) -> State:
        self._knn()
        arrays = {"memory_bank": self.memory_bank_}
        if self.map_bank_ is not None:
            arrays["map_bank"] = self.map_bank_
        return State(
            arrays,
            {
                "grid": list(self.grid_),
                "image_spec": self.image_spec_.as_dict() if self.image_spec_ else None,
                "neighbourhood": self.neighbourhood_,
                "input_shape": list(self.input_shape_),
                "map_shape": list(self.map_shape_),
            },
        )

    def _restore(self, state: State) -> None:
        self.memory_bank_ = np.ascontiguousarray(state.arrays["memory_bank"], dtype=np.float32)
        bank = state.arrays.get("map_bank")
        self.map_bank_ = None if bank is None else np.ascontiguousarray(bank, dtype=np.float32)
        self.grid_ = tuple(state.values["grid"])
        spec = state.values.get("image_spec")
        self.image_spec_ = ImageSpec(**spec) if spec else None
        self.neighbourhood_ = int(state.values["neighbourhood"])
        square = [self.image_size, self.image_size]  # before shapes were kept: square
        self.input_shape_ = tuple(state.values.get("input_shape") or square)
        self.map_shape_ = tuple(state.values.get("map_shape") or square)
        self._features = None
        self._index = self._map_index = None

    @classmethod
    def upgrade_card(cls, card: dict[str, Any], folder: Path) -> dict[str, Any]:
        """Read formats 1 (before the model contract: bank digests under their own keys)
        and 2 (maps drawn from the image stages, map window 3 by default)."""
        if card.get("kind") == cls.kind and int(card.get("format_version", 0)) == 2:
            old = card["params"]
            params = {
                "map_neighbourhood": 3,
                "max_map_bank": old.get("max_bank", 5_000),
                **old,
                "map_stages": None,
            }
            return {**card, "params": params}
        if card.get("kind") or card.get("model") != "patchcore":
            return card
        # format 1 was always square, its maps drawn from the image stages
        params = {
            "map_neighbourhood": 3,
            **card["params"],
            "keep_aspect": False,
            "map_stages": None,
        }
        arrays = {"memory_bank": np.load(Path(folder) / "memory_bank.npy", allow_pickle=False)}
        if card.get("map_bank_sha256"):
            arrays["map_bank"] = np.load(Path(folder) / "map_bank.npy", allow_pickle=False)
        _check_legacy(folder, card, arrays)
        neighbourhood = params.get("neighbourhood") or 3  # format 1's window for few images
        return {
            "kind": cls.kind,
            "format_version": 1,
            "params": params,
            "data": {},
            "threshold": card.get("threshold"),
            "arrays": {name: array_digest(a) for name, a in arrays.items()},
            "texts": {},
            "state": {
                "grid": card["grid"],
                "image_spec": card.get("image_spec"),
                "neighbourhood": neighbourhood,
            },
        }


def _check_legacy(folder: Path, card: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    from dure.models.vision.cards import digest

    pairs = [("memory_bank", "memory_bank_sha256"), ("map_bank", "map_bank_sha256")]
    for name, key in pairs:
        if name in arrays and digest(arrays[name]) != card.get(key):
            raise ModelFileError(f"{folder}/{name}.npy does not match its card (changed)")


def _flat_index(bank: np.ndarray) -> faiss.Index:
    index = faiss.IndexFlatL2(bank.shape[1])
    index.add(bank)
    return index


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    if sigma <= 0:
        return x
    radius = int(math.ceil(4 * sigma))
    grid = torch.arange(-radius, radius + 1, dtype=x.dtype)
    kernel = torch.exp(-(grid**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    x = F.pad(x, [radius, radius, radius, radius], mode="reflect")
    x = F.conv2d(x, kernel.view(1, 1, 1, -1))
    return F.conv2d(x, kernel.view(1, 1, -1, 1))
