"""ONNX export of a fitted detector; ``OnnxScorer`` (in ``scoring``, re-exported here) runs it
in onnxruntime and gives the same numbers."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import torch

from dure.models.vision.defect_types import DefectTypeClassifier
from dure.models.vision.graph import ScoringGraph
from dure.models.vision.patchcore import PatchCore
from dure.models.vision.scoring import OnnxScorer, Scores

__all__ = [
    "OnnxScorer",
    "Scores",
    "embedding_onnx_bytes",
    "export_onnx",
    "onnx_bytes",
    "scoring_graph",
]


def scoring_graph(model: PatchCore) -> ScoringGraph:
    """The fitted detector's scoring path as one module (exact distances, k = 1)."""
    model._knn()  # NotFittedError before fit
    bank = torch.from_numpy(model.memory_bank_)
    map_bank = getattr(model, "map_bank_", None)
    return ScoringGraph(
        model.features,
        bank,
        model.input_shape_,
        model.blur_sigma,
        torch.from_numpy(map_bank) if map_bank is not None else None,
    ).eval()


def onnx_bytes(model: PatchCore, opset: int = 18) -> bytes:
    """The scoring graph as an ONNX model; input ``images`` (N, 3, S, S) float in [0, 1]."""
    graph = scoring_graph(model)
    example = torch.rand(1, 3, *model.input_shape_)
    return _export(graph, example, ["scores", "maps"], opset)


def embedding_onnx_bytes(classifier: DefectTypeClassifier, opset: int = 18) -> bytes:
    """The defect-type head's texture embedding as an ONNX model: input ``images``
    (N, 3, S, S) float in [0, 1] at the classifier's ``image_size``, output ``embedding``
    (N, D); the batch is dynamic."""
    size = int(classifier.image_size)
    return _export(classifier.embedding.eval(), torch.rand(2, 3, size, size), ["embedding"], opset)


def _export(
    module: torch.nn.Module, example: torch.Tensor, outputs: list[str], opset: int
) -> bytes:
    out = io.BytesIO()
    dynamic = {name: {0: "batch"} for name in ["images", *outputs]}
    # The tracer warns that spatial sizes become constants: intended, the image size is fixed.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        torch.onnx.export(
            module,
            (example,),
            out,
            input_names=["images"],
            output_names=outputs,
            dynamic_axes=dynamic,
            opset_version=opset,
            dynamo=False,
        )
    return out.getvalue()


def export_onnx(model: PatchCore, path: Path, opset: int = 18) -> Path:
    """Write the scoring graph to ``path`` (see ``onnx_bytes``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(onnx_bytes(model, opset))
    return path
