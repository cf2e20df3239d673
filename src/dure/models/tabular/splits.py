"""Leakage-safe splits for process data: train on the past, test on what came after.

Rows are ordered by production time (or lot sequence); all rows of one lot stay on one
side, so a model is never tested on a lot it has partly seen. Random k-fold on process
data leaks the future into training (drifting machines, shared lots) and flatters it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dure.errors import InvalidInput


def ordered_folds(
    order: Sequence[float] | np.ndarray,
    n_splits: int = 5,
    groups: Sequence[str] | None = None,
    min_train: float = 0.3,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Forward-chaining folds: the first ``min_train`` share of groups (in time order)
    always trains; the rest is cut into ``n_splits`` blocks, each tested on a model that
    saw only earlier groups. ``groups`` (e.g. lot ids) default to one group per row."""
    order = np.asarray(order, dtype=np.float64)
    if order.ndim != 1 or not np.isfinite(order).all():
        raise InvalidInput("order", "give one finite time (or sequence number) per row")
    labels = np.asarray(groups if groups is not None else np.arange(len(order)).astype(str))
    if labels.shape != order.shape:
        raise InvalidInput("groups", f"{labels.size} groups for {order.size} rows")
    names, inverse = np.unique(labels, return_inverse=True)
    first_seen = np.full(len(names), np.inf)
    np.minimum.at(first_seen, inverse, order)
    group_order = np.argsort(first_seen, kind="stable")
    rank = np.empty(len(names), dtype=int)
    rank[group_order] = np.arange(len(names))
    row_rank = rank[inverse]
    start = int(np.ceil(min_train * len(names)))
    if len(names) - start < n_splits or start == 0:
        raise InvalidInput("n_splits", f"{len(names)} groups are too few for {n_splits} folds")
    edges = np.linspace(start, len(names), n_splits + 1).round().astype(int)
    folds = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        train = np.flatnonzero(row_rank < lo)
        test = np.flatnonzero((row_rank >= lo) & (row_rank < hi))
        folds.append((train, test))
    return folds


def assert_no_leak(
    order: Sequence[float] | np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    groups: Sequence[str] | None = None,
) -> None:
    """Refuse a split that trains on rows after the test rows or shares a group."""
    order = np.asarray(order, dtype=np.float64)
    if order[train].max() > order[test].min():
        raise InvalidInput("split", "training rows come after test rows: the future leaks in")
    if groups is not None:
        g = np.asarray(groups)
        shared = set(g[train]) & set(g[test])
        if shared:
            raise InvalidInput("split", f"lot {sorted(shared)[0]!r} is in training and test")
