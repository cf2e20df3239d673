"""`dure bench federated --dataset neu-det`: federated vs pooled vs local-only, real Flower.

NEU-DET's six classes are spread unevenly over three simulated suppliers (a Dirichlet
split per class); a stratified fifth of the images is the common test set. Every model is
the defect-type head on the shipped backbone's embeddings:
- pooled: logistic regression on all suppliers' training images together (the ceiling);
- local-only: each supplier's own images;
- federated: a Flower server and three Flower clients as separate processes on loopback
  (FedAvg, FedProx, and FedProx with server-side clipping and Gaussian noise).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from sklearn.linear_model import LogisticRegression

from dure.bench.common import machine
from dure.collab.flower import (
    RoundSettings,
    start_client,
    start_server,
    write_head,
    write_local_data,
)
from dure.ingest.image_folders import scan
from dure.models.vision.defect_types import DefectTypeClassifier
from dure.ports import free_port


def neu_embeddings(
    root: Path, cache: Path | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Embeddings (no mirrors) and labels of all NEU-DET images, cached when asked."""
    if cache is not None and cache.exists():
        data = np.load(cache)
        return data["x"], data["y"], list(data["classes"])
    items = scan(Path(root) / "neu-det", "neu-det")
    images = [np.asarray(Image.open(i.path).convert("L")) for i in items]
    classes = sorted({i.label for i in items})
    x = DefectTypeClassifier(flip_augment=False).embed(images)
    y = np.array([classes.index(i.label) for i in items])
    if cache is not None:
        np.savez(cache, x=x, y=y, classes=np.array(classes))
    return x, y, classes


def non_iid_split(
    y: np.ndarray, sites: int, alpha: float, seed: int, test_per_class: int = 60
) -> tuple[np.ndarray, list[np.ndarray]]:
    """A stratified test set, and the rest of each class spread over sites by Dirichlet(α)."""
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    test = np.concatenate(
        [rng.permutation(np.flatnonzero(y == k))[:test_per_class] for k in classes]
    )
    train = np.setdiff1d(np.arange(len(y)), test)
    owner = np.empty(len(y), int)
    for k in classes:
        rows = rng.permutation(train[y[train] == k])
        cuts = (np.cumsum(rng.dirichlet([alpha] * sites))[:-1] * len(rows)).astype(int)
        for site, part in enumerate(np.split(rows, cuts)):
            owner[part] = site
    return test, [train[owner[train] == s] for s in range(sites)]


def _lr_accuracy(x: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> float:
    if len(np.unique(y[train])) < 2:
        return float(np.mean(y[test] == y[train][0])) if len(train) else 0.0
    model = LogisticRegression(C=1.0, max_iter=3000).fit(x[train], y[train])
    return float(model.score(x[test], y[test]))


def federated_round(
    x: np.ndarray,
    y: np.ndarray,
    sites: list[np.ndarray],
    n_classes: int,
    settings: RoundSettings,
    work: Path,
    timeout: float = 600.0,
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Run one Flower federation (server + one client per site, separate processes)."""
    address = f"127.0.0.1:{free_port()}"
    initial = write_head(
        work / "initial.npz", np.zeros((n_classes, x.shape[1])), np.zeros(n_classes)
    )
    out = work / "final.npz"
    started = time.perf_counter()
    server = start_server(address, initial, out, len(sites), settings, work / "server.log")
    clients = [
        start_client(
            address,
            write_local_data(work / f"site{i}.npz", x[rows], y[rows]),
            settings,
            work / f"client{i}.log",
            seed=i,
        )
        for i, rows in enumerate(sites)
    ]
    try:
        code = server.wait(timeout)
    finally:
        for proc in [server, *clients]:
            if proc.poll() is None:
                proc.kill()
    if code != 0 or not out.exists():
        raise RuntimeError(
            f"Flower server exited {code}: {(work / 'server.log').read_text()[-2000:]}"
        )
    head = np.load(out)
    return head["w"], head["b"], {"seconds": round(time.perf_counter() - started, 1)}


def run_federated_bench(
    root: Path,
    seed: int = 0,
    alpha: float = 0.3,
    rounds: int = 30,
    dp_noises: tuple[float, ...] = (0.5, 1.0),
    dp_clip: float = 1.0,
    cache: Path | None = None,
) -> dict[str, Any]:
    """Pooled, local-only and federated accuracy on a non-IID NEU-DET split."""
    x, y, classes = neu_embeddings(root, cache)
    test, sites = non_iid_split(y, 3, alpha, seed)
    pooled = _lr_accuracy(x, y, np.concatenate(sites), test)
    local = [_lr_accuracy(x, y, rows, test) for rows in sites]
    configs = {
        "fedavg": RoundSettings(rounds=rounds, strategy="fedavg"),
        "fedprox": RoundSettings(rounds=rounds, strategy="fedprox", mu=0.1),
    }
    for noise in dp_noises:
        configs[f"fedprox+dp(noise={noise},clip={dp_clip})"] = RoundSettings(
            rounds=rounds, strategy="fedprox", mu=0.1, dp_noise=noise, dp_clip=dp_clip
        )
    federated = {}
    for name, settings in configs.items():
        with tempfile.TemporaryDirectory() as folder:
            w, b, info = federated_round(x, y, sites, len(classes), settings, Path(folder))
        accuracy = float(np.mean((x[test] @ w.T + b).argmax(axis=1) == y[test]))
        federated[name] = {
            "accuracy": round(accuracy, 4),
            "of_pooled": round(accuracy / pooled, 4),
            **info,
            "settings": settings.__dict__,
        }
    return {
        "dataset": "neu-det",
        "protocol": (
            f"60 test images per class; the rest split over 3 suppliers by Dirichlet(α={alpha}) "
            f"per class, seed {seed}; embeddings of the shipped EfficientNet-Lite0 (no mirrors)"
        ),
        "classes": classes,
        "site_class_counts": [np.bincount(y[s], minlength=len(classes)).tolist() for s in sites],
        "pooled_accuracy": round(pooled, 4),
        "local_only_accuracy": [round(a, 4) for a in local],
        "federated": federated,
        "machine": machine(),
    }
