"""Remaining useful life from multichannel sensor histories: an ensemble of small networks.

Each machine's history is a (cycles x channels) array. Channels that never change in
training are dropped; the rest are standardised and exponentially smoothed (sensor noise
hides slow wear), cut into windows of ``window`` cycles (short histories are padded with
their first row, as the start of a test machine's life can be short too) and mapped to
the remaining life, capped at ``cap`` cycles (early in life wear is invisible, so the
usual piecewise-linear target). ``age`` adds the history's cycle count as one more input;
``relative`` each channel's change since the machine's own start.

``members`` networks are averaged. Member m learns from every machine but those of fold
m (machines split into ``max(members, 5)`` folds by machine), and is then scored on its
held-out machines cut at random points: those out-of-fold errors calibrate
``predict_interval``. ``channel_importance`` sets each channel back to its healthy level
(its standardised level over the first ``window`` cycles of the training histories) and
measures how far the estimate moves.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.signal import lfilter
from torch import nn

from dure.errors import InvalidInput, NotFittedError
from dure.models.contract import Model, State
from dure.models.registry import register

ARCHITECTURES = ("cnn", "gru")
#: A history's cycle count is divided by this before it enters the network (``age``).
AGE_SCALE = 200.0
#: With ``relative``, each machine's own start: the mean of its first cycles.
OWN_START_CYCLES = 20
#: Random cut points per held-out machine for the out-of-fold calibration errors.
CALIBRATION_CUTS = 10
#: Fewest calibration errors read around a prediction for its interval.
NEIGHBOURS = 40


class _Cnn(nn.Module):
    def __init__(self, channels: int, width: int = 32, dropout: float = 0.2) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv1d(channels, width, 5, padding=2),
            nn.ReLU(),
            nn.Conv1d(width, 2 * width, 5, padding=2),
            nn.ReLU(),
            nn.Conv1d(2 * width, 2 * width, 3, padding=1),
            nn.ReLU(),
        )
        self.head = nn.Sequential(
            nn.Linear(4 * width, 64), nn.ReLU(), nn.Dropout(dropout), nn.Linear(64, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x.transpose(1, 2))
        return self.head(torch.cat([h.mean(2), h[:, :, -1]], 1)).squeeze(1)


class _Gru(nn.Module):
    def __init__(self, channels: int, width: int = 32, dropout: float = 0.2) -> None:
        super().__init__()
        self.gru = nn.GRU(channels, 2 * width, batch_first=True)
        self.head = nn.Sequential(
            nn.Linear(2 * width, 64), nn.ReLU(), nn.Dropout(dropout), nn.Linear(64, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(x)
        return self.head(out[:, -1]).squeeze(1)


def _network(arch: str, channels: int, width: int, dropout: float) -> nn.Module:
    return (_Gru if arch == "gru" else _Cnn)(channels, width, dropout)


@register
class RulEstimator(Model):
    """fit(histories, ruls) -> self; predict(histories) -> remaining cycles at each end.

    ``score`` is the life used up at each history's end (``cap`` − predicted remaining
    life): higher means nearer to failure; ``predict_interval`` gives a (low, high) range
    per history and ``channel_importance`` the share of each input channel in an estimate.

    The defaults were chosen on C-MAPSS FD001's training engines only, never its test
    engines (``dure.bench.pdm_validation``): the 100 engines split by engine into 5 folds,
    each held out in turn while the others teach, its engines cut at 10 random points at
    most 125 cycles before failure, one network per trial, RMSE against the remaining
    life capped at 125, pooled over the folds: the former CNN (40-cycle window) 14.2, the
    GRU with ``age`` 14.3, the same with ``relative`` 9.8 (chosen; with a 30-cycle own
    start 9.8, the CNN with ``relative`` 17.6 on 4 folds). Earlier, on one 80/20 split
    (too noisy to rank by: it disagreed with the folds): a 20-cycle window, ``smoothing``
    0.6, the CNN with ``age`` and a half-width GRU did worse. ``dure bench pdm --choose``
    repeats a bounded search from these defaults per seed. ``members`` (3) was set for
    fit time, not searched. ``smoothing`` is the weight of the newest cycle.
    ``relative`` adds each channel's change since the machine's own start (the mean of
    its first ``OWN_START_CYCLES`` cycles): machines start with different wear and
    manufacturing variation, and the change hides less in that spread than the level.
    """

    kind = "rul-cnn"
    format_version = 3

    def __init__(
        self,
        window: int = 30,
        smoothing: float = 0.3,
        cap: float = 125.0,
        epochs: int = 30,
        members: int = 3,
        batch: int = 256,
        learning_rate: float = 3e-3,
        arch: str = "gru",
        width: int = 32,
        dropout: float = 0.2,
        age: bool = True,
        relative: bool = True,
        random_state: int = 0,
    ) -> None:
        self.window = window
        self.smoothing = smoothing
        self.cap = cap
        self.epochs = epochs
        self.members = members
        self.batch = batch
        self.learning_rate = learning_rate
        self.arch = arch
        self.width = width
        self.dropout = dropout
        self.age = age
        self.relative = relative
        self.random_state = random_state

    # ---- learning -----------------------------------------------------------------------
    def fit(
        self, histories: Sequence[np.ndarray], ruls: Sequence[np.ndarray] | None = None
    ) -> RulEstimator:
        """Learn from machine histories; ``ruls[i]`` is the remaining life at each cycle of
        history i (default: the histories run to failure, so it counts down to 0)."""
        self._check_params()
        histories = _checked(histories, None)
        if ruls is None:
            ruls = [np.arange(len(h) - 1, -1, -1, dtype=np.float64) for h in histories]
        if len(ruls) != len(histories) or any(
            len(r) != len(h) for r, h in zip(ruls, histories, strict=True)
        ):
            raise InvalidInput("ruls", "give one remaining-life value per cycle of each history")
        ruls = [np.asarray(r, dtype=np.float64) for r in ruls]
        stacked = np.concatenate(histories)
        spread = stacked.std(0)
        # a channel that moves less than 0.01 % of its level is a constant with rounding
        keep = np.flatnonzero(spread > np.maximum(1e-4 * np.abs(stacked.mean(0)), 1e-12))
        if keep.size == 0:
            raise InvalidInput("histories", "every channel is constant: nothing to learn from")
        self.n_channels_in_ = histories[0].shape[1]
        self.keep_ = keep
        self.mean_ = stacked[:, keep].mean(0)
        self.scale_ = stacked[:, keep].std(0)
        prepared = [self._prepared(h) for h in histories]
        features = keep.size * (2 if self.relative else 1)  # all but the age column
        self.healthy_ = np.mean(
            np.concatenate([p[: self.window, :features] for p in prepared]), axis=0
        )
        windows = [_windows(p, self.window) for p in prepared]
        targets = [np.minimum(r, self.cap).astype(np.float32) for r in ruls]
        folds = _folds(len(histories), max(self.members, 5), self.random_state)
        rng = np.random.default_rng(self.random_state)
        self.nets_ = []
        calibration: list[tuple[np.ndarray, np.ndarray]] = []
        for m in range(self.members):
            held = set(folds[m % len(folds)]) if len(folds) > 1 else set()
            taught = [i for i in range(len(histories)) if i not in held]
            x = np.concatenate([windows[i] for i in taught])
            y = np.concatenate([targets[i] for i in taught])
            net = self._train(x, y, self.random_state * 1000 + m)
            self.nets_.append(net)
            if held and m < len(folds):
                cuts = [(i, c) for i in sorted(held) for c in _cut_points(len(histories[i]), rng)]
                x_held = np.stack([windows[i][c - 1] for i, c in cuts])
                calibration.append(
                    (_run([net], x_held, self.cap), np.array([targets[i][c - 1] for i, c in cuts]))
                )
        if not calibration:  # a single machine: its own (taught) errors are all there is
            x_all = np.concatenate(windows)
            calibration.append((_run(self.nets_, x_all, self.cap), np.concatenate(targets)))
        self.calibration_predicted_ = np.concatenate([c[0] for c in calibration])
        self.calibration_actual_ = np.concatenate([c[1] for c in calibration]).astype(np.float64)
        self.data_ = {
            "machines": len(histories),
            "cycles": int(len(stacked)),
            "calibration_errors": int(self.calibration_actual_.size),
            "calibration": "out-of-fold" if len(folds) > 1 else "in-sample (one machine)",
        }
        return self

    def _check_params(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise InvalidInput("arch", f"{self.arch!r}: use one of {list(ARCHITECTURES)}")
        for name in ("window", "epochs", "members", "batch", "width"):
            if int(getattr(self, name)) < 1:
                raise InvalidInput(name, "must be at least 1")
        if not 0 < self.smoothing <= 1:
            raise InvalidInput("smoothing", "must be in (0, 1]")
        if self.cap <= 0:
            raise InvalidInput("cap", "must be positive")

    def _train(self, x: np.ndarray, y: np.ndarray, seed: int) -> nn.Module:
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        net = _network(self.arch, x.shape[2], self.width, self.dropout)
        steps = self.epochs * int(np.ceil(len(x) / self.batch))
        opt = torch.optim.Adam(net.parameters(), self.learning_rate / 3)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, self.learning_rate, total_steps=steps)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        net.train()
        for _ in range(self.epochs):
            order = torch.randperm(len(xt), generator=generator)
            for start in range(0, len(xt), self.batch):
                b = order[start : start + self.batch]
                opt.zero_grad()
                loss = nn.functional.mse_loss(net(xt[b]), yt[b])
                loss.backward()
                opt.step()
                sched.step()
        return net.eval()

    # ---- estimates ------------------------------------------------------------------------
    def predict(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        """The remaining life (cycles) at the last cycle of each history."""
        return _run(self._fitted_nets(), self._last_windows(histories), self.cap)

    def score(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        """Life used up at the end of each history: ``cap`` minus the remaining life."""
        return self.cap - self.predict(histories).astype(np.float64)

    def predict_interval(
        self, histories: Sequence[np.ndarray], coverage: float = 0.8
    ) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) remaining life at the end of each history, meant to hold the (capped)
        truth ``coverage`` of the time.

        The range is the prediction plus the quantiles of the out-of-fold errors made
        around the same predicted life (at least ``NEIGHBOURS`` of them, the nearest
        predictions), measured in ``fit`` on machines each member never learned from.
        """
        if not 0 < coverage < 1:
            raise InvalidInput("coverage", f"must be between 0 and 1, got {coverage}")
        predicted = self.predict(histories)
        reference = getattr(self, "calibration_predicted_", None)
        if reference is None or reference.size == 0:
            raise NotFittedError("this model has no calibration errors: fit it again")
        errors = self.calibration_actual_ - reference
        k = min(reference.size, max(NEIGHBOURS, reference.size // 8))
        order = np.argsort(np.abs(reference[None, :] - predicted[:, None]), axis=1)[:, :k]
        near = errors[order]
        # the range always holds the estimate itself, even where its neighbours' errors
        # all lean one way
        low = predicted + np.minimum(np.quantile(near, (1 - coverage) / 2, axis=1), 0.0)
        high = predicted + np.maximum(np.quantile(near, (1 + coverage) / 2, axis=1), 0.0)
        return np.clip(low, 0.0, self.cap), np.clip(high, 0.0, self.cap)

    def channel_importance(self, history: np.ndarray) -> np.ndarray:
        """Each input channel's share (summing to 1) in the estimate at the end of
        ``history``: how far the estimate moves when that channel alone is set back to its
        healthy level over the window. Channels dropped as constant get 0."""
        nets = self._fitted_nets()
        if getattr(self, "healthy_", None) is None:
            raise NotFittedError("this model has no healthy levels (format 1): fit it again")
        x = self._last_windows([history])
        base = _run(nets, x, self.cap, clip=False)[0]
        used = self.keep_.size
        occluded = np.repeat(x, used, axis=0)
        for c in range(used):
            occluded[c, :, c] = self.healthy_[c]
            if self.relative:  # its change since the machine's own start goes back too
                occluded[c, :, used + c] = self.healthy_[used + c]
        moved = np.abs(_run(nets, occluded, self.cap, clip=False) - base)
        out = np.zeros(self.n_channels_in_)
        out[self.keep_] = moved / moved.sum() if moved.sum() > 0 else 1.0 / used
        return out

    def _fitted_nets(self) -> list[nn.Module]:
        if not getattr(self, "nets_", None):
            raise NotFittedError("fit the RUL estimator before predicting")
        return self.nets_

    def _last_windows(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        self._fitted_nets()
        checked = _checked(histories, self.n_channels_in_)
        return np.stack([_windows(self._prepared(h), self.window)[-1] for h in checked])

    def _prepared(self, history: np.ndarray) -> np.ndarray:
        """Standardised, smoothed kept channels (and the age column with ``age``)."""
        z = (history[:, self.keep_] - self.mean_) / self.scale_
        a = self.smoothing
        smooth = lfilter([a], [1.0, a - 1.0], z, axis=0, zi=(1 - a) * z[:1])[0]
        if self.relative:
            start = z[:OWN_START_CYCLES].mean(0)
            smooth = np.hstack([smooth, smooth - start])
        if self.age:
            cycles = np.arange(1, len(z) + 1, dtype=np.float64)[:, None] / AGE_SCALE
            smooth = np.hstack([smooth, cycles])
        return smooth

    # ---- saving -------------------------------------------------------------------------
    def _state(self) -> State:
        self.check_is_fitted()
        arrays = {
            "keep": self.keep_,
            "mean": self.mean_,
            "scale": self.scale_,
            "healthy": self.healthy_,
            "calibration_predicted": self.calibration_predicted_,
            "calibration_actual": self.calibration_actual_,
        }
        for i, net in enumerate(self.nets_):
            for name, tensor in net.state_dict().items():
                arrays[f"net{i}.{name}"] = tensor.detach().numpy().copy()
        return State(arrays, {"n_channels_in": self.n_channels_in_, "nets": len(self.nets_)})

    def _restore(self, state: State) -> None:
        self.keep_ = state.arrays["keep"]
        self.mean_ = state.arrays["mean"]
        self.scale_ = state.arrays["scale"]
        if "healthy" in state.arrays:
            self.healthy_ = state.arrays["healthy"]
            self.calibration_predicted_ = state.arrays["calibration_predicted"]
            self.calibration_actual_ = state.arrays["calibration_actual"]
        self.n_channels_in_ = int(state.values["n_channels_in"])
        inputs = int(self.keep_.size) * (2 if self.relative else 1) + (1 if self.age else 0)
        self.nets_ = []
        for i in range(int(state.values["nets"])):
            net = _network(self.arch, inputs, self.width, self.dropout)
            prefix = f"net{i}."
            weights = {
                k.removeprefix(prefix): torch.from_numpy(np.array(v))
                for k, v in state.arrays.items()
                if k.startswith(prefix)
            }
            net.load_state_dict(weights)
            self.nets_.append(net.eval())

    @classmethod
    def upgrade_card(cls, card: dict[str, Any], folder: Path) -> dict[str, Any]:
        """Older formats in format 3's parameters. Format 1 (one CNN shape, no calibration)
        predicts as before but has no interval or channel shares; formats 1 and 2 had no
        ``relative`` inputs."""
        version = int(card.get("format_version", 0))
        params = dict(card.get("params") or {})
        if version < 2:
            params = {**_FORMAT_1, **params}
        if version < 3:
            params.setdefault("relative", False)
        return {**card, "params": params}


#: What format-1 models were, in format 2's parameters.
_FORMAT_1 = {"arch": "cnn", "width": 32, "dropout": 0.2, "age": False, "window": 40}


def _run(nets: Sequence[nn.Module], x: np.ndarray, cap: float, clip: bool = True) -> np.ndarray:
    """The members' mean estimate for windows ``x`` (clipped to [0, cap] unless told)."""
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    with torch.no_grad():
        out = np.mean([net.eval()(xt).numpy() for net in nets], axis=0).astype(np.float64)
    return np.clip(out, 0.0, cap) if clip else out


def _windows(prepared: np.ndarray, window: int) -> np.ndarray:
    """The window ending at every cycle (the first ones padded with the first row)."""
    z = np.vstack([np.repeat(prepared[:1], window - 1, 0), prepared])
    index = np.arange(window)[None, :] + np.arange(len(prepared))[:, None]
    return z[index].astype(np.float32)


def _folds(n: int, k: int, seed: int) -> list[list[int]]:
    """Machines 0..n-1 shuffled into min(k, n) folds (one fold when n is 1)."""
    order = np.random.default_rng(seed).permutation(n).tolist()
    k = min(k, n)
    return [sorted(order[f::k]) for f in range(k)]


def _cut_points(length: int, rng: np.random.Generator) -> np.ndarray:
    """Cycles (1-based, inclusive) at which a held-out history is cut for calibration."""
    return rng.integers(1, length + 1, size=CALIBRATION_CUTS)


def _checked(histories: Sequence[np.ndarray], channels: int | None) -> list[np.ndarray]:
    if len(histories) == 0:
        raise InvalidInput("histories", "give at least one machine history")
    out = []
    for i, h in enumerate(histories):
        a = np.asarray(h, dtype=np.float64)
        if a.ndim != 2 or a.shape[0] == 0:
            raise InvalidInput(f"histories[{i}]", f"must be (cycles, channels), got {a.shape}")
        if channels is not None and a.shape[1] != channels:
            raise InvalidInput(
                f"histories[{i}]", f"has {a.shape[1]} channels, the model {channels}"
            )
        if not np.isfinite(a).all():
            row = int(np.argwhere(~np.isfinite(a))[0][0])
            raise InvalidInput(f"histories[{i}]", f"cycle {row} holds NaN or inf")
        out.append(a)
    return out


def phm_score(predicted: np.ndarray, actual: np.ndarray) -> float:
    """The PHM 2008 challenge score: late predictions cost more than early ones."""
    d = np.asarray(predicted, float) - np.asarray(actual, float)
    return float(np.sum(np.where(d < 0, np.exp(-d / 13) - 1, np.exp(d / 10) - 1)))
