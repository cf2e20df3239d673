"""Quality figures of anomaly detectors: image AUROC, pixel AUROC, AUPRO, F1 at a threshold."""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from sklearn.metrics import roc_auc_score


def image_auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve of image scores (label 1 = defective)."""
    return float(roc_auc_score(labels, scores))


def pixel_auroc(masks: np.ndarray, maps: np.ndarray, max_pixels: int = 20_000_000) -> float:
    """Pixel-level AUROC of anomaly maps against boolean masks (evenly subsampled if huge)."""
    flat_mask, flat_map = masks.ravel(), maps.ravel()
    step = max(1, flat_mask.size // max_pixels)
    return float(roc_auc_score(flat_mask[::step], flat_map[::step]))


def aupro(masks: np.ndarray, maps: np.ndarray, fpr_limit: float = 0.3, steps: int = 200) -> float:
    """Area under the per-region-overlap curve up to ``fpr_limit`` false-positive rate, scaled to 1.

    Every connected defect region counts equally, so a small crack weighs as much as a
    large break (Bergmann et al., MVTec AD, 2021).
    """
    regions = []
    for i in range(masks.shape[0]):
        labelled, count = ndimage.label(masks[i])
        for r in range(1, count + 1):
            regions.append((i, labelled == r))
    if not regions:
        raise ValueError("AUPRO needs at least one defect region")
    normal = ~masks
    normal_scores = np.sort(maps[normal])
    thresholds = np.quantile(normal_scores, np.linspace(1.0, 1.0 - fpr_limit, steps))
    fprs, pros = [], []
    region_scores = [np.sort(maps[i][region]) for i, region in regions]
    for th in thresholds:
        fpr = 1.0 - np.searchsorted(normal_scores, th, side="right") / normal_scores.size
        pro = np.mean([1.0 - np.searchsorted(s, th, side="right") / s.size for s in region_scores])
        fprs.append(fpr)
        pros.append(pro)
    fprs_a, pros_a = np.asarray(fprs), np.asarray(pros)
    keep = fprs_a <= fpr_limit
    return float(np.trapezoid(pros_a[keep], fprs_a[keep]) / fpr_limit)


def f1_at(labels: np.ndarray, scores: np.ndarray, threshold: float) -> float:
    """F1 of calling ``scores >= threshold`` defective."""
    pred = scores >= threshold
    tp = float(np.sum(pred & (labels == 1)))
    fp = float(np.sum(pred & (labels == 0)))
    fn = float(np.sum(~pred & (labels == 1)))
    return 0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn)
