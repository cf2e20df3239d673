"""`dure bench vision` on a small generated MVTec-layout folder: the JSON users script against."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from dure.bench.vision import split_folder
from dure.cli import main
from dure.errors import InvalidInput
from dure.ingest.image_folders import FolderImage
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


def _plain_mvtec(
    root: Path, good_train: int, good_test: int = 3, defects: int = 3, width: int = 96
) -> None:
    """An MVTec-layout folder as most users have it: no ground_truth masks; images 96 px
    high and ``width`` wide."""

    def save(path: Path, seed: int, label: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        pixels = sheet_image(seed, label, size=max(96, width)).pixels[:96, :width]
        Image.fromarray(pixels).save(path)

    for k in range(good_train):
        save(root / "train" / "good" / f"{k:03d}.png", k, "good")
    for k in range(good_test):
        save(root / "test" / "good" / f"{k:03d}.png", 300 + k, "good")
    for k in range(defects):
        save(root / "test" / "crack" / f"{k:03d}.png", 400 + k, "crack")


def test_a_folder_without_masks_gives_image_figures_and_says_why_no_pixel_ones(
    tmp_path: Path,
) -> None:
    _plain_mvtec(tmp_path / "parts", good_train=9)
    out = tmp_path / "vision.json"
    result = CliRunner().invoke(
        main,
        ["bench", "vision", "--dataset", "folder", "--data-root", str(tmp_path / "parts")]
        + ["--image-size", "96", "--out", str(out)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert {"image_auroc", "f1_at_threshold", "false_alarm_rate_at_threshold"} <= set(
        doc["summary"]
    )
    assert "pixel_auroc" not in doc["summary"] and doc["runs"][0]["pixel_auroc"] is None
    assert doc["protocol"]["pixel_metrics"] == "left out: no defect image has a ground_truth mask"
    assert "train/good (9 images" in doc["protocol"]["split"]
    assert "7 of them teach, 2 (20%" in doc["protocol"]["split"]
    assert "magnetic-tile" not in json.dumps(doc["protocol"])


def test_wide_images_are_benched_in_their_own_shape(tmp_path: Path) -> None:
    _plain_mvtec(tmp_path / "wide", good_train=6, width=288)
    out = tmp_path / "wide.json"
    result = CliRunner().invoke(
        main,
        ["bench", "vision", "--dataset", "folder", "--data-root", str(tmp_path / "wide")]
        + ["--image-size", "96", "--out", str(out)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    run = json.loads(out.read_text())["runs"][0]
    assert run["input_shape"][1] > 2 * run["input_shape"][0]  # 96x288: kept wide
    assert run["image_auroc"] is not None and run["latency_ms_p50"] > 0


@pytest.mark.parametrize("good", [5, 25, 26, 50, 51, 300])
def test_any_number_of_good_images_is_split_by_a_share(tmp_path: Path, good: int) -> None:
    items = [FolderImage(tmp_path / f"{k}.png", "train", "good") for k in range(good)]
    items += [FolderImage(tmp_path / "t.png", "test", "good")]
    items += [FolderImage(tmp_path / "d.png", "test", "crack")]
    split = split_folder(items, seed=0, shots=None, root=tmp_path)
    expected = min(max(round(0.2 * good), 1), 50)
    assert len(split.calibration) == expected and len(split.train) == good - expected
    assert not {i.path for i in split.train} & {i.path for i in split.calibration}
    few = split_folder(items, seed=1, shots=4, root=tmp_path)
    assert len(few.train) == 4 and len(few.calibration) == min(good - 4, 50)


def test_folders_the_bench_cannot_use_are_named(tmp_path: Path) -> None:
    good = [FolderImage(tmp_path / f"{k}.png", "train", "good") for k in range(4)]
    test_good = [FolderImage(tmp_path / "t.png", "test", "good")]
    crack = [FolderImage(tmp_path / "d.png", "test", "crack")]
    with pytest.raises(InvalidInput, match="at least 4"):
        split_folder(good + test_good + crack, 0, None, tmp_path)  # 4 good: 3 teach
    more = good + [FolderImage(tmp_path / "e.png", "train", "good")]
    with pytest.raises(InvalidInput, match="test/good holds no images"):
        split_folder(more + crack, 0, None, tmp_path)
    with pytest.raises(InvalidInput, match="no defect folders"):
        split_folder(more + test_good, 0, None, tmp_path)
    with pytest.raises(InvalidInput, match="shots 5 must leave at least one"):
        split_folder(more + test_good + crack, 0, 5, tmp_path)
    with pytest.raises(InvalidInput, match="train/good holds no images"):
        split_folder(test_good + crack, 0, None, tmp_path)


def test_choose_picks_settings_on_validation_data_and_records_every_trial(
    tmp_path: Path,
) -> None:
    """--choose tries the windows and maps on held-out good images and synthetic defects
    of the training pool only; the JSON says what was tried, what won and how."""
    from dure.bench.vision_validation import IMAGE_WINDOWS, MAP_SETTINGS

    _folder(tmp_path / "parts")
    out = tmp_path / "vision.json"
    result = CliRunner().invoke(
        main,
        ["bench", "vision", "--dataset", "folder", "--data-root", str(tmp_path / "parts")]
        + ["--shots", "8", "--image-size", "64", "--choose", "--out", str(out)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert "No test image is seen" in doc["protocol"]["validation"]
    run = doc["runs"][0]
    trials = run["validation"]["trials"]
    assert len(trials) == len(IMAGE_WINDOWS) + len(MAP_SETTINGS) - 1
    image_rows = [t for t in trials if t["stage"] == "image"]
    best = max(t["image_auroc"] for t in image_rows)
    chosen = run["validation"]["chosen"]
    assert any(
        t["neighbourhood"] == chosen["neighbourhood"] and t["image_auroc"] == best
        for t in image_rows
    )
    assert run["neighbourhood"] == chosen["neighbourhood"]
    assert all(0.0 <= t["pixel_auroc"] <= 1.0 for t in trials)


def test_without_choose_the_protocol_says_nothing_was_chosen(tmp_path: Path) -> None:
    from dure.bench.vision import run_vision_bench

    _folder(tmp_path / "parts")
    doc = run_vision_bench("folder", tmp_path / "parts", 6, 1, 64)
    assert doc["protocol"]["validation"].startswith("not run")
    assert doc["runs"][0]["validation"] is None
