"""The model contract, checked for every registered model (scikit-learn's estimator checks
in spirit): parameters stored as given, NotFittedError before fit, fit returns the model
and never rewrites a parameter, learned state ends with "_", score and predict give one
answer per sample, save writes arrays and a card with every contract field and no pickle,
load (by the card's kind) gives identical scores, and a changed file is refused.

A new model joins by registering: this test then fails until it has an example below.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dure.errors import ModelFileError, NotFittedError
from dure.models.contract import CARD_FIELDS, Model, read_card
from dure.models.registry import load_model, registered
from dure.models.tabular.defects import DefectClassifier
from dure.models.tabular.yields import YieldRegressor
from dure.models.timeseries.anomaly import ChannelDetector, CrossChannelDetector
from dure.models.timeseries.health import HealthIndex
from dure.models.timeseries.rul import RulEstimator
from dure.models.vision.defect_types import DefectTypeClassifier
from dure.models.vision.inspector import Inspector, TeachingSet
from dure.models.vision.patchcore import PatchCore, Scores
from dure.services.demo.sheet_metal import sheet_image

SIZE = 64


def _px(seed: int, label: str = "good") -> np.ndarray:
    return sheet_image(seed, label, SIZE).pixels


@dataclass
class Example:
    """A fresh unfitted model, how to fit it, and data to score."""

    make: Callable[[], Model]
    fit: Callable[[Model], Model]
    data: Any
    samples: int


def _rows(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 4))


def _machines(n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        life = int(rng.integers(30, 50))
        wear = np.linspace(0, 1, life)
        out.append(np.column_stack([wear + rng.normal(0, 0.05, life), rng.normal(0, 1, life)]))
    return out


def _teaching() -> TeachingSet:
    labels = ["scratch", "scratch", "rust", "rust"]
    return TeachingSet(
        good=[_px(k) for k in range(4)],
        held_out_good=[_px(10 + k) for k in range(3)],
        defects=[_px(20 + k, lab) for k, lab in enumerate(labels)],
        defect_labels=labels,
    )


def _labels(X: np.ndarray) -> list[str]:
    return ["burr" if x else "ok" for x in X[:, 0] + 0.5 * X[:, 1] > 0.3]


EXAMPLES: dict[str, Example] = {
    "patchcore": Example(
        lambda: PatchCore(image_size=SIZE, coreset_ratio=0.5),
        lambda m: m.fit([_px(k) for k in range(4)]).calibrate([_px(10), _px(11)]),
        [_px(30), _px(31, "dent")],
        2,
    ),
    "inspector": Example(
        lambda: Inspector({"image_size": SIZE, "coreset_ratio": 0.5}),
        lambda m: m.fit(_teaching()),
        [_px(30), _px(31, "rust")],
        2,
    ),
    "defect-types": Example(
        lambda: DefectTypeClassifier(image_size=SIZE, flip_augment=False),
        lambda m: m.fit(
            [_px(40 + k, lab) for k, lab in enumerate(["scratch", "rust"] * 3)],
            ["scratch", "rust"] * 3,
        ),
        [_px(50, "rust"), _px(51, "scratch")],
        2,
    ),
    "process-defects": Example(
        lambda: DefectClassifier({"n_estimators": 20}),
        lambda m: m.fit(_rows(200, 0), _labels(_rows(200, 0)), ["a", "b", "c", "d"]),
        _rows(7, 1),
        7,
    ),
    "process-yield": Example(
        lambda: YieldRegressor({"n_estimators": 20}),
        lambda m: m.fit(_rows(120, 0), _rows(120, 0) @ [1.0, -0.5, 0.0, 0.2]),
        _rows(7, 1),
        7,
    ),
    "rul-cnn": Example(
        lambda: RulEstimator(window=8, epochs=2, cap=40.0),
        lambda m: m.fit(_machines(4, 0)),
        _machines(3, 1),
        3,
    ),
    "sensor-channels": Example(
        lambda: ChannelDetector(false_alarm_rate=0.01),
        lambda m: m.fit(_rows(500, 0)),
        _rows(9, 1) * 3,
        9,
    ),
    "health-index": Example(
        lambda: HealthIndex(false_alarm_rate=0.01),
        lambda m: m.fit(_rows(500, 0)),
        _rows(9, 1) * 3,
        9,
    ),
    "sensor-cross-channel": Example(
        lambda: CrossChannelDetector(false_alarm_rate=0.01),
        lambda m: m.fit(_rows(500, 0) @ np.triu(np.ones((4, 4)))),
        _rows(9, 1),
        9,
    ),
}


def test_every_registered_model_has_an_example() -> None:
    kinds = set(registered())
    assert kinds == set(EXAMPLES), f"add an example for {sorted(kinds - set(EXAMPLES))}"
    assert len(kinds) >= 7


def _image_scores(scores: Any) -> np.ndarray:
    return scores.image if isinstance(scores, Scores) else np.asarray(scores, dtype=np.float64)


@pytest.fixture(scope="module", params=sorted(EXAMPLES))
def fitted(request: pytest.FixtureRequest) -> tuple[str, Model, Model]:
    """(kind, an unfitted model, the same model fitted)."""
    example = EXAMPLES[request.param]
    return request.param, example.make(), example.fit(example.make())


def test_init_only_stores_parameters(fitted: tuple[str, Model, Model]) -> None:
    kind, fresh, _ = fitted
    assert type(fresh).kind == kind
    assert set(fresh.get_params()) == set(type(fresh).param_names())
    assert not fresh.is_fitted()
    learned = [k for k in vars(fresh) if k.endswith("_") and not k.startswith("_")]
    assert learned == [], f"{kind} sets learned attributes in __init__: {learned}"


def test_unfitted_model_refuses_to_score_or_save(
    fitted: tuple[str, Model, Model], tmp_path: Path
) -> None:
    kind, fresh, _ = fitted
    with pytest.raises(NotFittedError):
        fresh.score(EXAMPLES[kind].data)
    with pytest.raises(NotFittedError):
        fresh.save(tmp_path / "m")
    assert not (tmp_path / "m" / "card.json").exists()


def test_fit_returns_the_model_and_keeps_its_parameters(fitted: tuple[str, Model, Model]) -> None:
    kind, fresh, model = fitted
    example = EXAMPLES[kind]
    again = example.make()
    before = copy.deepcopy(again.get_params())
    assert example.fit(again) is again
    assert again.get_params() == before, f"{kind}.fit rewrote a constructor parameter"
    new = set(vars(again)) - set(vars(fresh))
    public = sorted(k for k in new if not k.startswith("_"))
    assert public and all(k.endswith("_") for k in public), public
    assert isinstance(model.data_, dict) and model.data_


def test_score_and_predict_answer_once_per_sample(fitted: tuple[str, Model, Model]) -> None:
    kind, _, model = fitted
    example = EXAMPLES[kind]
    scores = model.score(example.data)
    image = _image_scores(scores)
    assert image.shape == (example.samples,) and np.isfinite(image).all()
    if isinstance(scores, Scores):
        assert scores.maps.shape == (example.samples, SIZE, SIZE)
    assert len(model.predict(example.data)) == example.samples


def test_save_then_load_scores_identically(
    fitted: tuple[str, Model, Model], tmp_path: Path
) -> None:
    kind, _, model = fitted
    data = EXAMPLES[kind].data
    before = model.score(data)
    folder = model.save(tmp_path / kind, extra={"owner": "test"})
    card = read_card(folder)
    assert all(name in card for name in CARD_FIELDS), sorted(set(CARD_FIELDS) - set(card))
    assert card["kind"] == kind and card["owner"] == "test" and card["data"] == model.data_
    for path in folder.rglob("*"):
        if path.is_file():
            assert not path.read_bytes().startswith(b"\x80"), f"{path} looks like a pickle"
    again = load_model(folder)
    assert type(again) is type(model)
    assert again.get_params() == model.get_params()
    after = again.score(data)
    np.testing.assert_allclose(_image_scores(after), _image_scores(before), rtol=1e-6, atol=1e-6)
    if isinstance(before, Scores):
        np.testing.assert_allclose(after.maps, before.maps, rtol=1e-6, atol=1e-6)
    assert list(np.asarray(again.predict(data))) == list(np.asarray(model.predict(data)))


def test_a_changed_file_is_refused(fitted: tuple[str, Model, Model], tmp_path: Path) -> None:
    kind, _, model = fitted
    folder = model.save(tmp_path / kind)
    target = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "card.json")[0]
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="does not match its card"):
        load_model(folder)


def test_a_card_of_another_kind_is_refused(tmp_path: Path) -> None:
    kind, example = "sensor-channels", EXAMPLES["sensor-channels"]
    folder = example.fit(example.make()).save(tmp_path / kind)
    with pytest.raises(ModelFileError, match="not 'sensor-cross-channel'"):
        CrossChannelDetector.load(folder)
    with pytest.raises(ModelFileError, match="no model of kind"):
        (folder / "card.json").write_text('{"kind": "mystery"}')
        load_model(folder)


def test_federated_arrays_can_be_read_and_replaced() -> None:
    example = EXAMPLES["defect-types"]
    head = example.fit(example.make())
    arrays = head.get_arrays()
    assert set(arrays) == {"head_coef", "head_intercept"}
    head.set_arrays(
        {"head_coef": arrays["head_coef"] * 0, "head_intercept": arrays["head_intercept"] * 0}
    )
    assert np.allclose(head.score(example.data), 0.5)  # two classes, no evidence: 50/50
    assert np.array_equal(head.get_arrays()["head_coef"], arrays["head_coef"] * 0)
    with pytest.raises(ValueError, match="shape"):
        head.set_arrays({"head_intercept": np.zeros(5)})
