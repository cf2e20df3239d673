"""`dure bench vision` on a small generated MVTec-layout folder: the JSON users script against."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from PIL import Image

from dure.cli import main
from dure.services.demo.sheet_metal import DEFECT_TYPES, sheet_image


def _folder(root: Path) -> None:
    for k in range(14):
        path = root / "train" / "good" / f"{k:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(sheet_image(k, "good", size=128).pixels).save(path)
    for k in range(4):
        (root / "test" / "good").mkdir(parents=True, exist_ok=True)
        Image.fromarray(sheet_image(100 + k, "good", size=128).pixels).save(
            root / "test/good" / f"{k}.png"
        )
        label = DEFECT_TYPES[k]
        img = sheet_image(200 + k, label, size=128)
        (root / "test" / label).mkdir(parents=True, exist_ok=True)
        (root / "ground_truth" / label).mkdir(parents=True, exist_ok=True)
        Image.fromarray(img.pixels).save(root / "test" / label / f"{k}.png")
        Image.fromarray(img.mask.astype("uint8") * 255).save(
            root / "ground_truth" / label / f"{k}_mask.png"
        )


def test_bench_vision_on_a_folder_writes_the_promised_fields(tmp_path: Path) -> None:
    _folder(tmp_path / "parts")
    out = tmp_path / "vision.json"
    result = CliRunner().invoke(
        main,
        [
            "bench",
            "vision",
            "--dataset",
            "folder",
            "--data-root",
            str(tmp_path / "parts"),
            "--shots",
            "10",
            "--image-size",
            "128",
            "--out",
            str(out),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    for key in (
        "image_auroc",
        "pixel_auroc",
        "aupro",
        "f1_at_threshold",
        "train_seconds",
        "latency_ms_p50",
        "latency_ms_p99",
        "throughput_images_per_s",
    ):
        assert key in doc["summary"], key
    assert doc["protocol"]["image_size"] == 128 and doc["peak_rss_mb"] > 0
    assert doc["runs"][0]["train_images"] == 10 and doc["runs"][0]["test_images"] == 8
