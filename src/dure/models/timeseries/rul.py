"""Remaining useful life from multichannel sensor histories: a small 1-D CNN on windows.

Each machine's history is a (cycles x channels) array. Channels that never change in
training are dropped; the rest are standardised and exponentially smoothed (sensor noise
hides slow wear), cut into windows of ``window`` cycles (short histories are padded with
their first row, as the start of a test machine's life can be short too) and mapped to
the remaining life, capped at ``cap`` cycles (early in life wear is invisible, so the
usual piecewise-linear target). ``members`` networks with different seeds are averaged.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from dure.errors import InvalidInput, NotFittedError
from dure.models.contract import Model, State
from dure.models.registry import register


class _Net(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv1d(channels, 32, 5, padding=2),
            nn.ReLU(),
            nn.Conv1d(32, 64, 5, padding=2),
            nn.ReLU(),
            nn.Conv1d(64, 64, 3, padding=1),
            nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Linear(128, 64), nn.ReLU(), nn.Dropout(0.2), nn.Linear(64, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv(x.transpose(1, 2))
        return self.head(torch.cat([h.mean(2), h[:, :, -1]], 1)).squeeze(1)


@register
class RulEstimator(Model):
    """fit(histories, ruls) -> self; predict(histories) -> remaining cycles at each end.

    ``score`` is the life used up at each history's end (``cap`` − predicted remaining
    life): higher means nearer to failure. The defaults were chosen on C-MAPSS FD001's
    training set (``smoothing`` is the weight of the newest cycle).
    """

    kind = "rul-cnn"

    def __init__(
        self,
        window: int = 40,
        smoothing: float = 0.3,
        cap: float = 125.0,
        epochs: int = 40,
        members: int = 1,
        batch: int = 256,
        learning_rate: float = 3e-3,
        random_state: int = 0,
    ) -> None:
        self.window = window
        self.smoothing = smoothing
        self.cap = cap
        self.epochs = epochs
        self.members = members
        self.batch = batch
        self.learning_rate = learning_rate
        self.random_state = random_state

    def fit(
        self, histories: Sequence[np.ndarray], ruls: Sequence[np.ndarray] | None = None
    ) -> RulEstimator:
        """Learn from machine histories; ``ruls[i]`` is the remaining life at each cycle of
        history i (default: the histories run to failure, so it counts down to 0)."""
        histories = _checked(histories, None)
        if ruls is None:
            ruls = [np.arange(len(h) - 1, -1, -1, dtype=np.float64) for h in histories]
        if len(ruls) != len(histories) or any(
            len(r) != len(h) for r, h in zip(ruls, histories, strict=True)
        ):
            raise InvalidInput("ruls", "give one remaining-life value per cycle of each history")
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
        x = np.concatenate([self._windows(h, every_cycle=True) for h in histories])
        y = np.concatenate([np.minimum(r, self.cap) for r in ruls]).astype(np.float32)
        self.nets_ = [self._train(x, y, self.random_state * 1000 + m) for m in range(self.members)]
        self.data_ = {"machines": len(histories), "cycles": int(len(stacked))}
        return self

    def predict(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        """The remaining life (cycles) at the last cycle of each history."""
        if not getattr(self, "nets_", None):
            raise NotFittedError("fit the RUL estimator before predicting")
        histories = _checked(histories, self.n_channels_in_)
        x = torch.from_numpy(np.stack([self._windows(h, every_cycle=False)[-1] for h in histories]))
        with torch.no_grad():
            out = np.mean([net.eval()(x).numpy() for net in self.nets_], axis=0)
        return np.clip(out, 0.0, self.cap)

    def score(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        """Life used up at the end of each history: ``cap`` minus the remaining life."""
        return self.cap - self.predict(histories).astype(np.float64)

    def _prepared(self, history: np.ndarray) -> np.ndarray:
        z = (history[:, self.keep_] - self.mean_) / self.scale_
        alpha = self.smoothing
        out = np.empty_like(z)
        out[0] = z[0]
        for t in range(1, len(z)):
            out[t] = alpha * z[t] + (1 - alpha) * out[t - 1]
        return out

    def _windows(self, history: np.ndarray, every_cycle: bool) -> np.ndarray:
        w = self.window
        z = self._prepared(history)
        pad = w - 1 if every_cycle else max(0, w - len(z))
        z = np.vstack([np.repeat(z[:1], pad, 0), z])
        index = np.arange(w)[None, :] + np.arange(len(z) - w + 1)[:, None]
        return z[index].astype(np.float32)

    def _train(self, x: np.ndarray, y: np.ndarray, seed: int) -> _Net:
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        net = _Net(x.shape[2])
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

    # ---- saving -------------------------------------------------------------------------
    def _state(self) -> State:
        self.check_is_fitted()
        arrays = {"keep": self.keep_, "mean": self.mean_, "scale": self.scale_}
        for i, net in enumerate(self.nets_):
            for name, tensor in net.state_dict().items():
                arrays[f"net{i}.{name}"] = tensor.detach().numpy().copy()
        return State(arrays, {"n_channels_in": self.n_channels_in_, "nets": len(self.nets_)})

    def _restore(self, state: State) -> None:
        self.keep_ = state.arrays["keep"]
        self.mean_ = state.arrays["mean"]
        self.scale_ = state.arrays["scale"]
        self.n_channels_in_ = int(state.values["n_channels_in"])
        self.nets_ = []
        for i in range(int(state.values["nets"])):
            net = _Net(int(self.keep_.size))
            prefix = f"net{i}."
            weights = {
                k.removeprefix(prefix): torch.from_numpy(np.array(v))
                for k, v in state.arrays.items()
                if k.startswith(prefix)
            }
            net.load_state_dict(weights)
            self.nets_.append(net.eval())


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
