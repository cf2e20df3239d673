"""The line-side inference runs without torch: a fresh interpreter loads an edge bundle,
inspects images with it, and never imports torch or the site's heavy libraries."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from dure.models.vision.edge_bundle import edge_bundle
from dure.models.vision.inspector import Inspector, TeachingSet
from dure.services.demo.sheet_metal import sheet_image

ROOT = Path(__file__).resolve().parents[2]
SIZE = 96
HEAVY = ["torch", "torchvision", "faiss", "scipy", "sklearn", "sqlalchemy", "lightgbm", "ray"]

EDGE_SCRIPT = """
import json, sys
from pathlib import Path

import numpy as np
from PIL import Image

from dure.models.vision import pixels, scoring
from dure.models.vision.onnx_inspector import OnnxInspector

folder = Path(sys.argv[1])
edge = OnnxInspector.from_bundle((folder / "bundle.tar").read_bytes())
names = sorted(p.name for p in folder.glob("*.png"))
images = [np.asarray(Image.open(folder / n)) for n in names]
found = edge.inspect(images, names)
heat = pixels.heat_at(found[0].raw_map, edge.map_level, *images[0].shape[:2])
heavy = sorted(m for m in %r if m in sys.modules or any(k.startswith(m + ".") for k in sys.modules))
print(json.dumps({
    "names": names,
    "defects": [f.is_defect for f in found],
    "types": [f.defect_type for f in found],
    "heat_shape": list(heat.shape),
    "scorer": scoring.OnnxScorer.__module__,
    "heavy": heavy,
}))
"""


def _png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


def test_an_edge_bundle_is_inspected_without_torch(tmp_path: Path) -> None:
    defects = [(s, lab) for lab in ("scratch", "rust") for s in range(300, 302)]
    inspector = Inspector({"image_size": SIZE, "coreset_ratio": 0.25}, min_per_type=2).fit(
        TeachingSet(
            good=[sheet_image(k, "good", SIZE).pixels for k in range(6)],
            held_out_good=[sheet_image(100 + k, "good", SIZE).pixels for k in range(3)],
            defects=[sheet_image(s, lab, SIZE).pixels for s, lab in defects],
            defect_labels=[lab for _, lab in defects],
        )
    )
    (tmp_path / "bundle.tar").write_bytes(edge_bundle(inspector))
    feed = {"a-good.png": ("good", 700), "b-rust.png": ("rust", 701)}
    for name, (label, seed) in feed.items():
        (tmp_path / name).write_bytes(_png(sheet_image(seed, label, SIZE).pixels))
    site = inspector.inspect(
        [np.asarray(Image.open(tmp_path / n)) for n in sorted(feed)], sorted(feed)
    )

    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-c", EDGE_SCRIPT % (HEAVY,), str(tmp_path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["heavy"] == [], f"the edge imported {out['heavy']}"
    assert out["scorer"] == "dure.models.vision.scoring"
    assert out["names"] == sorted(feed)
    assert out["defects"] == [f.is_defect for f in site] == [False, True]
    assert out["types"] == [f.defect_type for f in site]
    assert out["heat_shape"] == [SIZE, SIZE]


def test_the_check_would_see_torch() -> None:
    """The same probe in a process that imports the site's inspector names torch."""
    probe = "import sys; import dure.models.vision.inspector; print('torch' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.stdout.strip() == "True", result.stderr
