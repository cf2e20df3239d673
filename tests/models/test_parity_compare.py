"""The parity comparison on its own: what agrees, and the cause it names when not.

Golden records are made by hand here (no model): the comparison only sees numbers, maps,
input fingerprints and versions, so each cause can be provoked exactly.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from dure.collab.packages import build_package, new_signing_key, verify_package
from dure.errors import ModelFileError
from dure.models.vision.parity import (
    compare,
    environment,
    golden_card,
    input_fingerprint,
    pack_golden,
    unpack_golden,
)

RNG = np.random.default_rng(3)
IMAGES = [RNG.integers(0, 255, (40, 48, 3), dtype=np.uint8) for _ in range(3)]
MAPS = RNG.random((3, 8, 8)).astype(np.float32) * 2
SCORES = np.array([1.5, 2.0, 3.25])


def _png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


def _golden() -> dict:
    inputs = [input_fingerprint(im, 32) for im in IMAGES]
    return golden_card(["a", "b", "c"], [_png(im) for im in IMAGES], SCORES, inputs)


def _inputs(shape: int = 32) -> list[dict]:
    return [input_fingerprint(im, shape) for im in IMAGES]


def test_parity_the_same_numbers_agree_within_tolerance() -> None:
    outcome = compare(_golden(), MAPS, SCORES + 5e-5, MAPS + 1e-5, _inputs())
    assert outcome["status"] == "ok" and outcome["cause"] is None
    assert outcome["max_score_drift"] == pytest.approx(5e-5)
    assert outcome["environment"]["site"] == environment()


def test_parity_a_changed_input_names_the_preprocessing_and_a_similar_factor() -> None:
    golden = _golden()
    outcome = compare(golden, MAPS, SCORES * 1.08, MAPS * 1.08, _inputs(48))
    assert outcome["status"] == "mismatch"
    assert "image pre-processing differs (resize/colour)" in outcome["cause"]
    assert "every score off by a similar factor (×1.0800)" in outcome["cause"]
    assert outcome["differing"] == ["a", "b", "c"]


def test_parity_maps_match_but_one_score_differs() -> None:
    scores = SCORES.copy()
    scores[1] += 0.01
    outcome = compare(_golden(), MAPS, scores, MAPS, _inputs())
    assert outcome["cause"].startswith("maps match but scores differ (b)")
    assert outcome["max_score_drift"] == pytest.approx(0.01)


def test_parity_another_onnxruntime_is_named() -> None:
    golden = _golden()
    golden["environment"] = {**golden["environment"], "onnxruntime": "0.0.1"}
    outcome = compare(golden, MAPS, SCORES + 0.1, MAPS + 0.1, _inputs())
    assert outcome["cause"].startswith(
        f"onnxruntime version differs: site {environment()['onnxruntime']} vs publisher 0.0.1"
    )
    same = compare(_golden(), MAPS, SCORES + 0.1, MAPS + 0.1, _inputs())
    assert "model graph here is not the one" in same["cause"]


def test_parity_golden_member_round_trips_and_is_signed() -> None:
    files = [_png(im) for im in IMAGES]
    member = pack_golden(files, MAPS)
    back, maps = unpack_golden(member)
    assert back == files and np.array_equal(maps, MAPS)
    with pytest.raises(ModelFileError, match="unreadable"):
        unpack_golden(b"not an npz")
    private, public = new_signing_key()
    card = {"package_id": "p", "name": "m", "version": 1, "golden": _golden()}
    signed = build_package(b"model", card, "oem", private, member)
    verified = verify_package(signed, {"oem": public})
    assert verified.golden == member and verified.card["golden"]["images"][0]["name"] == "a"
    old = build_package(b"model", {k: v for k, v in card.items() if k != "golden"}, "oem", private)
    assert verify_package(old, {"oem": public}).golden is None  # packages without one stay readable
