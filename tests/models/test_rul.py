"""Remaining-useful-life estimator: learns wear on synthetic machines, its interval holds
the truth about as often as asked, the wearing channel drives it, bad input named,
save/load exact, and a floor on the real C-MAPSS FD001."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dure.errors import InvalidInput, ModelFileError, NotFittedError
from dure.models.timeseries.rul import RulEstimator, phm_score

# the small CNN learns these machines in a few seconds; the default GRU is saved and
# loaded below and in the contract tests
FAST = {"window": 20, "epochs": 12, "cap": 60.0, "members": 2, "arch": "cnn", "age": False}
CAP = FAST["cap"]


def _machines(n: int, seed: int) -> list[np.ndarray]:
    """Run-to-failure histories: two channels drift with wear, one is noise, one constant."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        life = int(rng.integers(80, 160))
        wear = np.exp(np.linspace(0, 3, life)) - 1
        out.append(
            np.column_stack(
                [
                    100 + 0.5 * wear + rng.normal(0, 0.3, life),
                    50 - 0.2 * wear + rng.normal(0, 0.2, life),
                    rng.normal(0, 1, life),
                    np.full(life, 21.61),
                ]
            )
        )
    return out


def _cut(histories: list[np.ndarray], seed: int) -> tuple[list[np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    cuts = [int(rng.integers(10, len(h))) for h in histories]
    return [h[:c] for h, c in zip(histories, cuts, strict=True)], np.array(
        [len(h) - c for h, c in zip(histories, cuts, strict=True)], float
    )


def test_it_learns_wear_far_better_than_guessing_the_mean() -> None:
    est = RulEstimator(**FAST).fit(_machines(40, 0))
    assert est.keep_.tolist() == [0, 1, 2]  # the constant is dropped
    tests, actual = _cut(_machines(30, 1), 2)
    actual = np.minimum(actual, CAP)
    predicted = est.predict(tests)
    rmse = float(np.sqrt(np.mean((predicted - actual) ** 2)))
    guess = float(np.sqrt(np.mean((actual.mean() - actual) ** 2)))
    assert rmse < 0.5 * guess, (rmse, guess)
    assert predicted.min() >= 0 and predicted.max() <= CAP


def _one_wearing_channel(n: int, seed: int) -> list[np.ndarray]:
    """Run-to-failure histories where only channel 1 carries the wear (0 and 2 are noise
    as loud as the wear's end, 3 is constant)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        life = int(rng.integers(80, 160))
        wear = np.exp(np.linspace(0, 3, life)) - 1
        out.append(
            np.column_stack(
                [
                    rng.normal(0, 3, life),
                    20 + 0.5 * wear + rng.normal(0, 0.3, life),
                    rng.normal(5, 3, life),
                    np.full(life, 7.0),
                ]
            )
        )
    return out


def test_the_interval_holds_the_truth_about_as_often_as_asked() -> None:
    est = RulEstimator(**{**FAST, "members": 3}).fit(_machines(40, 0))
    assert est.data_["calibration"] == "out-of-fold"
    tests, actual = _cut(_machines(80, 3), 4)
    actual = np.minimum(actual, CAP)
    low, high = est.predict_interval(tests, coverage=0.8)
    predicted = est.predict(tests)
    assert np.all(low <= predicted + 1e-9) and np.all(predicted <= high + 1e-9)
    covered = float(np.mean((low <= actual) & (actual <= high)))
    assert 0.65 <= covered <= 0.95, covered
    narrow_low, narrow_high = est.predict_interval(tests, coverage=0.5)
    assert np.mean(narrow_high - narrow_low) < np.mean(high - low)
    assert float(np.mean((narrow_low <= actual) & (actual <= narrow_high))) < covered


def test_the_channel_that_carries_the_wear_drives_the_estimate() -> None:
    est = RulEstimator(**FAST).fit(_one_wearing_channel(40, 0))
    worn = _one_wearing_channel(1, 5)[0]
    share = est.channel_importance(worn[: len(worn) - 5])
    assert share.shape == (4,)
    assert np.isclose(share.sum(), 1.0)
    assert int(np.argmax(share)) == 1, share
    assert share[3] == 0.0  # the constant channel was dropped
    assert share[1] > 0.5, share


def test_save_and_load_give_the_same_estimates_and_refuse_tampering(tmp_path: Path) -> None:
    est = RulEstimator(**{**FAST, "arch": "gru", "age": True}).fit(_machines(10, 0))
    tests, _ = _cut(_machines(5, 1), 2)
    est.save(tmp_path / "rul")
    again = RulEstimator.load(tmp_path / "rul")
    np.testing.assert_array_equal(again.predict(tests), est.predict(tests))
    for got, want in zip(
        again.predict_interval(tests, 0.9), est.predict_interval(tests, 0.9), strict=True
    ):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(
        again.channel_importance(tests[0]), est.channel_importance(tests[0])
    )
    assert again.get_params() == est.get_params()
    np.save(tmp_path / "rul" / "scale.npy", est.scale_ * 2)
    with pytest.raises(ModelFileError, match="does not match its card"):
        RulEstimator.load(tmp_path / "rul")


def test_a_format_1_model_still_predicts_but_has_no_interval(tmp_path: Path) -> None:
    old = {**FAST, "window": 40, "relative": False}
    est = RulEstimator(**old).fit(_machines(6, 0))
    est.save(tmp_path / "rul")
    card = json.loads((tmp_path / "rul" / "card.json").read_text())
    card["format_version"] = 1
    for name in ("arch", "width", "dropout", "age", "relative"):
        del card["params"][name]
    for name in ("healthy", "calibration_predicted", "calibration_actual"):
        del card["arrays"][name]
        (tmp_path / "rul" / f"{name}.npy").unlink()
    (tmp_path / "rul" / "card.json").write_text(json.dumps(card))
    again = RulEstimator.load(tmp_path / "rul")
    assert again.get_params()["arch"] == "cnn" and again.get_params()["age"] is False
    tests, _ = _cut(_machines(3, 1), 2)
    np.testing.assert_array_equal(again.predict(tests), est.predict(tests))
    with pytest.raises(NotFittedError, match="no calibration errors"):
        again.predict_interval(tests)
    with pytest.raises(NotFittedError, match="no healthy levels"):
        again.channel_importance(tests[0])


def test_a_format_2_model_loads_without_relative_inputs(tmp_path: Path) -> None:
    est = RulEstimator(**{**FAST, "relative": False}).fit(_machines(6, 0))
    est.save(tmp_path / "rul")
    card = json.loads((tmp_path / "rul" / "card.json").read_text())
    card["format_version"] = 2
    del card["params"]["relative"]
    (tmp_path / "rul" / "card.json").write_text(json.dumps(card))
    again = RulEstimator.load(tmp_path / "rul")
    assert again.get_params()["relative"] is False
    tests, _ = _cut(_machines(3, 1), 2)
    np.testing.assert_array_equal(again.predict(tests), est.predict(tests))
    np.testing.assert_array_equal(
        again.channel_importance(tests[0]), est.channel_importance(tests[0])
    )


def test_relative_inputs_are_each_machines_change_since_its_own_start() -> None:
    machines = _machines(6, 0)
    est = RulEstimator(**{**FAST, "relative": True, "age": False}).fit(machines)
    shifted = machines[0].copy()
    shifted[:, 1] += 3 * machines[0][:, 1].std()
    plain, moved = est._prepared(machines[0]), est._prepared(shifted)
    used = est.keep_.size
    assert plain.shape[1] == 2 * used
    # a machine built a little off the fleet's level: its level moves, its change does not
    assert not np.allclose(plain[:, :used], moved[:, :used])
    np.testing.assert_allclose(plain[:, used:], moved[:, used:], atol=1e-9)


def test_bad_histories_are_named() -> None:
    with pytest.raises(NotFittedError):
        RulEstimator(**FAST).predict(_machines(1, 0))
    broken = _machines(3, 0)
    broken[1][7, 2] = np.nan
    with pytest.raises(InvalidInput, match=r"histories\[1\]: cycle 7 holds NaN"):
        RulEstimator(**FAST).fit(broken)
    est = RulEstimator(**FAST).fit(_machines(3, 0))
    with pytest.raises(InvalidInput, match=r"histories\[0\]: has 3 channels, the model 4"):
        est.predict([np.zeros((30, 3))])
    with pytest.raises(InvalidInput, match="one remaining-life value per cycle"):
        RulEstimator(**FAST).fit(_machines(2, 0), [np.zeros(3), np.zeros(3)])
    with pytest.raises(InvalidInput, match="coverage: must be between 0 and 1"):
        est.predict_interval(_machines(1, 0), coverage=1.2)
    with pytest.raises(InvalidInput, match="arch: 'transformer'"):
        RulEstimator(**{**FAST, "arch": "transformer"}).fit(_machines(3, 0))
    with pytest.raises(InvalidInput, match="smoothing: must be in"):
        RulEstimator(**{**FAST, "smoothing": 0.0}).fit(_machines(3, 0))


def test_one_machine_is_enough_to_fit_with_in_sample_calibration() -> None:
    est = RulEstimator(**FAST).fit(_machines(1, 0))
    assert est.data_["calibration"].startswith("in-sample")
    low, high = est.predict_interval(_machines(1, 1))
    assert low[0] <= high[0]


def test_phm_score_punishes_late_more_than_early() -> None:
    assert phm_score(np.array([110.0]), np.array([100.0])) > phm_score(
        np.array([90.0]), np.array([100.0])
    )


@pytest.mark.data
@pytest.mark.slow
def test_cmapss_fd001_floor(shared_data: Path) -> None:
    from dure.bench.pdm import load_cmapss

    data = load_cmapss(shared_data / "cmapss")
    est = RulEstimator().fit(data["train"])  # the defaults, seed 0: 10.98 in the bench
    predicted = est.predict(data["test"])
    actual = np.minimum(data["test_rul"], 125)
    rmse = float(np.sqrt(np.mean((predicted - actual) ** 2)))
    assert rmse <= 12.0, rmse  # the bar; the benchmark reports 5 seeds (10.77 +- 0.22)
    low, high = est.predict_interval(data["test"], 0.8)
    covered = float(np.mean((low <= actual) & (actual <= high)))
    assert 0.6 <= covered <= 0.95, covered  # 0.79 +- 0.02 over the bench's 5 seeds
