"""Scoring with an exported graph in onnxruntime: numpy, Pillow and onnxruntime only.

``OnnxScorer`` runs the scoring graph ``export.onnx_bytes`` makes; the site's inspector
and the line-side runtime both score through it, so their numbers are the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from dure.models.vision.pixels import Shape, to_array


@dataclass
class Scores:
    """Image scores (N,) and anomaly maps (N, size, size); higher is more abnormal."""

    image: np.ndarray
    maps: np.ndarray


def onnx_session(graph: Path | bytes, threads: int | None = None) -> ort.InferenceSession:
    """An onnxruntime session of ``graph`` (a path or the bytes): CUDA when present, else
    CPU; ``threads`` pins the intra-op threads (1 gives the same bits on every run)."""
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    providers = [
        p
        for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
        if p in ort.get_available_providers()
    ]
    source = graph if isinstance(graph, bytes) else str(graph)
    return ort.InferenceSession(source, options, providers=providers)


class OnnxScorer:
    """Scores images with an exported graph in onnxruntime (CPU, or CUDA when present).

    ``graph`` is the ONNX file's path or its bytes; ``image_size`` the input's side or
    (height, width), as the model was taught.
    """

    def __init__(
        self, graph: Path | bytes, image_size: int | Shape, threads: int | None = None
    ) -> None:
        self.session = onnx_session(graph, threads)
        self.image_size = image_size

    def score(self, images: Sequence[np.ndarray]) -> Scores:
        """Image scores and maps, as ``PatchCore.score`` gives them."""
        batch = to_array(images, self.image_size)
        scores, maps = self.session.run(["scores", "maps"], {"images": batch})
        return Scores(scores.astype(np.float64), maps)
