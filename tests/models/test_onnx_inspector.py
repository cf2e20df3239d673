"""The line-side inspector: an edge bundle scored without torch gives the site's findings."""

from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pytest

from dure.errors import InvalidInput, ModelFileError
from dure.models.vision.edge_bundle import edge_bundle
from dure.models.vision.inspector import Inspector, TeachingSet
from dure.models.vision.onnx_inspector import EDGE_FORMAT, OnnxInspector
from dure.models.vision.pixels import heat_at
from dure.models.vision.scoring import OnnxScorer
from dure.models.vision.synthetic import synthetic_defects
from dure.services.demo.sheet_metal import sheet_image

SIZE = 128
BIG = 256  # tiled: 256 px images judged in 128 px tiles


def _px(seed: int, label: str, size: int = SIZE) -> np.ndarray:
    return sheet_image(seed, label, size).pixels


def _teach(size: int, **params: object) -> Inspector:
    defects = [(s, lab) for lab in ("scratch", "rust") for s in range(300, 303)]
    data = TeachingSet(
        good=[_px(k, "good", size) for k in range(8)],
        held_out_good=[_px(100 + k, "good", size) for k in range(4)],
        defects=[_px(s, lab, size) for s, lab in defects],
        defect_labels=[lab for _, lab in defects],
    )
    inspector = Inspector({"image_size": SIZE, "coreset_ratio": 0.25, **params}).fit(data)
    # one onnxruntime thread on both sides: the same graph then gives the same bits
    inspector._scorer = OnnxScorer(inspector.graph_, inspector.detector_.input_shape_, threads=1)
    return inspector


@pytest.fixture(scope="module")
def taught() -> Inspector:
    return _teach(SIZE)


@pytest.fixture(scope="module")
def tiled() -> Inspector:
    return _teach(BIG, tile=SIZE)


def _batch(size: int) -> tuple[list[np.ndarray], list[str]]:
    """Good parts, taught defect types, and synthetic defects the head never saw."""
    images = [_px(700, "good", size), _px(701, "rust", size), _px(702, "scratch", size)]
    images += [_px(703, "dent", size), _px(704, "good", size)]
    images += [d.pixels for d in synthetic_defects([_px(705, "good", size)], seed=3)]
    return images, [f"cam-{k}.png" for k in range(len(images))]


def _assert_parity(inspector: Inspector, threshold: float | None = None) -> None:
    images, names = _batch(inspector.detector_.image_spec_.height)
    edge = OnnxInspector.from_bundle(edge_bundle(inspector, threshold))
    site = inspector.inspect(images, names, threshold)
    found = edge.inspect(images, names)
    assert len(found) == len(site) == len(images)
    assert any(f.is_defect for f in site) and not all(f.is_defect for f in site)
    for f, s, image in zip(found, site, images, strict=True):
        assert f.score == s.score
        assert f.threshold == s.threshold
        assert f.is_defect == s.is_defect
        assert f.defect_type == s.defect_type
        if s.type_confidence is None:
            assert f.type_confidence is None
        else:
            assert f.type_confidence == pytest.approx(s.type_confidence, abs=1e-4)
        assert f.raw_map.dtype == np.float32 and f.raw_map.shape == edge.map_shape
        height, width = image.shape[:2]
        assert np.array_equal(heat_at(f.raw_map, edge.map_level, height, width), s.heatmap)
    assert any(f.defect_type for f in found)


def test_the_edge_gives_the_sites_findings(taught: Inspector) -> None:
    _assert_parity(taught)


def test_a_chosen_threshold_travels_in_the_bundle(taught: Inspector) -> None:
    images, names = _batch(SIZE)
    scores = sorted(f.score for f in taught.inspect(images, names))
    chosen = (scores[1] + scores[2]) / 2  # between the second and third lowest
    edge = OnnxInspector.from_bundle(edge_bundle(taught, chosen))
    assert edge.threshold == chosen != taught.threshold
    _assert_parity(taught, chosen)


def test_tiled_inspector_on_the_edge(tiled: Inspector) -> None:
    assert tiled.detector_.tile == SIZE
    _assert_parity(tiled)
    edge = OnnxInspector.from_bundle(edge_bundle(tiled))
    assert edge.tile == SIZE and edge.map_shape == (SIZE, SIZE)


def test_bundle_says_what_it_holds_and_is_deterministic(taught: Inspector) -> None:
    data = edge_bundle(taught)
    assert edge_bundle(taught) == data  # same model, same bytes: a stable package id
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("edge.json").read())  # type: ignore[union-attr]
        assert {m.mtime for m in tar.getmembers()} == {0}
    assert names == sorted(names)
    assert set(names) == {
        "edge.json",
        "scoring.onnx",
        "types.onnx",
        "head_coef.npy",
        "head_intercept.npy",
    }
    assert manifest["format"] == EDGE_FORMAT == "dure-edge/1"
    assert manifest["classes"] == ["rust", "scratch"]
    assert manifest["type_views"] == ["id", "lr", "ud"] and manifest["type_size"] == 224
    assert manifest["threshold"] == taught.threshold
    assert manifest["map_level"] == taught.map_level
    assert manifest["image_spec"] == taught.detector_.image_spec_.as_dict()


def test_bundle_without_defect_types(taught: Inspector) -> None:
    plain = Inspector.assemble(taught.detector_, None, taught.report_, graph=taught.graph_)
    data = edge_bundle(plain)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert tar.getnames() == ["edge.json", "scoring.onnx"]
    edge = OnnxInspector.from_bundle(data)
    images, names = _batch(SIZE)
    found = edge.inspect(images, names)
    assert edge.classes == [] and any(f.is_defect for f in found)
    assert all(f.defect_type is None and f.type_confidence is None for f in found)


def test_an_image_unlike_the_taught_ones_is_refused_by_name(taught: Inspector) -> None:
    edge = OnnxInspector.from_bundle(edge_bundle(taught))
    grey = _px(710, "good")[..., 0]  # taught on colour
    with pytest.raises(InvalidInput) as grey_error:
        edge.inspect([_px(711, "good"), grey], ["ok.png", "grey.png"])
    assert grey_error.value.field == "grey.png" and "colour" in grey_error.value.reason
    huge = _px(712, "good", SIZE * 5)
    with pytest.raises(InvalidInput) as big_error:
        edge.inspect([huge], ["huge.png"])
    assert big_error.value.field == "huge.png" and "taught on" in big_error.value.reason
    with pytest.raises(InvalidInput) as depth_error:
        edge.inspect([_px(713, "good").astype(np.float32)])
    assert depth_error.value.field == "image 0"
    assert edge.inspect([]) == []


def _rewrite(data: bytes, drop: str = "", **manifest_changes: object) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(data)) as src, tarfile.open(fileobj=out, mode="w") as dst:
        for info in src.getmembers():
            if info.name == drop:
                continue
            body = src.extractfile(info).read()  # type: ignore[union-attr]
            if info.name == "edge.json":
                body = json.dumps({**json.loads(body), **manifest_changes}).encode()
                info.size = len(body)
            dst.addfile(info, io.BytesIO(body))
    return out.getvalue()


def test_foreign_or_incomplete_bundles_are_refused(taught: Inspector) -> None:
    data = edge_bundle(taught)
    cases = {
        "dure-edge/2": _rewrite(data, format="dure-edge/2"),
        "lacks types.onnx": _rewrite(data, drop="types.onnx"),
        "lacks scoring.onnx": _rewrite(data, drop="scoring.onnx"),
        "no edge.json": _rewrite(data, drop="edge.json"),
        "not a readable tar": b"not a tar at all" * 64,
        "'map_level' must be above 0": _rewrite(data, map_level=0),
        "lacks 'threshold'": _without_key(data, "threshold"),
        "'threshold' must be a number": _rewrite(data, threshold="high"),
    }
    for needle, broken in cases.items():
        with pytest.raises(ModelFileError) as error:
            OnnxInspector.from_bundle(broken)
        assert needle in str(error.value), (needle, str(error.value))
    # a member changed after the manifest was written
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        coef = tar.extractfile("head_coef.npy").read()  # type: ignore[union-attr]
    swapped = _replace_member(data, "head_coef.npy", coef[:-4] + b"\0\0\0\0")
    with pytest.raises(ModelFileError, match="head_coef.npy does not match"):
        OnnxInspector.from_bundle(swapped)


def _without_key(data: bytes, key: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        manifest = json.loads(tar.extractfile("edge.json").read())  # type: ignore[union-attr]
    del manifest[key]
    return _replace_member(data, "edge.json", json.dumps(manifest).encode())


def _replace_member(data: bytes, name: str, body: bytes) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(data)) as src, tarfile.open(fileobj=out, mode="w") as dst:
        for info in src.getmembers():
            content = src.extractfile(info).read()  # type: ignore[union-attr]
            if info.name == name:
                content = body
                info.size = len(body)
            dst.addfile(info, io.BytesIO(content))
    return out.getvalue()
