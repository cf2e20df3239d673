"""Remaining useful life from multichannel sensor histories: a small 1-D CNN on windows.

Each machine's history is a (cycles x channels) array. Channels that never change in
training are dropped; the rest are standardised and exponentially smoothed (sensor noise
hides slow wear), cut into windows of ``window`` cycles (short histories are padded with
their first row, as the start of a test machine's life can be short too) and mapped to
the remaining life, capped at ``cap`` cycles (early in life wear is invisible, so the
usual piecewise-linear target). ``members`` networks with different seeds are averaged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dure.errors import InvalidInput, NotFittedError


@dataclass(frozen=True)
class RulSettings:
    """How the estimator learns; the defaults were chosen on C-MAPSS FD001's training set."""

    window: int = 40
    smoothing: float = 0.3  # weight of the newest cycle in the exponential smoothing
    cap: float = 125.0
    epochs: int = 40
    members: int = 1
    batch: int = 256
    learning_rate: float = 3e-3
    seed: int = 0


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


class RulEstimator:
    """fit(histories, ruls) -> self; predict(histories) -> remaining cycles at each end."""

    def __init__(self, settings: RulSettings | None = None) -> None:
        self.settings = settings or RulSettings()
        self.keep: np.ndarray | None = None
        self.mean: np.ndarray | None = None
        self.scale: np.ndarray | None = None
        self.nets: list[_Net] = []
        self.channels_in = 0

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
        s = self.settings
        self.channels_in = histories[0].shape[1]
        stacked = np.concatenate(histories)
        spread = stacked.std(0)
        # a channel that moves less than 0.01 % of its level is a constant with rounding
        self.keep = np.flatnonzero(spread > np.maximum(1e-4 * np.abs(stacked.mean(0)), 1e-12))
        if self.keep.size == 0:
            raise InvalidInput("histories", "every channel is constant: nothing to learn from")
        self.mean = stacked[:, self.keep].mean(0)
        self.scale = stacked[:, self.keep].std(0)
        x = np.concatenate([self._windows(h, every_cycle=True) for h in histories])
        y = np.concatenate([np.minimum(r, s.cap) for r in ruls]).astype(np.float32)
        self.nets = [self._train(x, y, s.seed * 1000 + m) for m in range(s.members)]
        return self

    def predict(self, histories: Sequence[np.ndarray]) -> np.ndarray:
        """The remaining life (cycles) at the last cycle of each history."""
        if not self.nets:
            raise NotFittedError("fit the RUL estimator before predicting")
        histories = _checked(histories, self.channels_in)
        x = torch.from_numpy(np.stack([self._windows(h, every_cycle=False)[-1] for h in histories]))
        with torch.no_grad():
            out = np.mean([net.eval()(x).numpy() for net in self.nets], axis=0)
        return np.clip(out, 0.0, self.settings.cap)

    def _prepared(self, history: np.ndarray) -> np.ndarray:
        assert self.keep is not None and self.mean is not None and self.scale is not None
        z = (history[:, self.keep] - self.mean) / self.scale
        alpha = self.settings.smoothing
        out = np.empty_like(z)
        out[0] = z[0]
        for t in range(1, len(z)):
            out[t] = alpha * z[t] + (1 - alpha) * out[t - 1]
        return out

    def _windows(self, history: np.ndarray, every_cycle: bool) -> np.ndarray:
        w = self.settings.window
        z = self._prepared(history)
        pad = w - 1 if every_cycle else max(0, w - len(z))
        z = np.vstack([np.repeat(z[:1], pad, 0), z])
        index = np.arange(w)[None, :] + np.arange(len(z) - w + 1)[:, None]
        return z[index].astype(np.float32)

    def _train(self, x: np.ndarray, y: np.ndarray, seed: int) -> _Net:
        s = self.settings
        torch.manual_seed(seed)
        generator = torch.Generator().manual_seed(seed)
        net = _Net(x.shape[2])
        steps = s.epochs * int(np.ceil(len(x) / s.batch))
        opt = torch.optim.Adam(net.parameters(), s.learning_rate / 3)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, s.learning_rate, total_steps=steps)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        net.train()
        for _ in range(s.epochs):
            order = torch.randperm(len(xt), generator=generator)
            for start in range(0, len(xt), s.batch):
                b = order[start : start + s.batch]
                opt.zero_grad()
                loss = nn.functional.mse_loss(net(xt[b]), yt[b])
                loss.backward()
                opt.step()
                sched.step()
        return net.eval()

    def save(self, folder: Path) -> None:
        """Weights, scaling and a card with a content hash."""
        if not self.nets:
            raise NotFittedError("nothing to save: the estimator is not fitted")
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {"keep": self.keep, "mean": self.mean, "scale": self.scale}
        np.savez(folder / "scaling.npz", **arrays)  # type: ignore[arg-type]
        for i, net in enumerate(self.nets):
            torch.save(net.state_dict(), folder / f"net{i}.pt")
        files = sorted(p.name for p in folder.iterdir() if p.suffix in (".pt", ".npz"))
        card = {
            "model": "rul-cnn",
            "version": 1,
            "settings": asdict(self.settings),
            "channels_in": self.channels_in,
            "files": {name: _sha256(folder / name) for name in files},
        }
        (folder / "card.json").write_text(json.dumps(card, indent=2))

    @classmethod
    def load(cls, folder: Path) -> RulEstimator:
        """Load a saved estimator, refusing files whose content hash does not match."""
        card = json.loads((folder / "card.json").read_text())
        for name, expected in card["files"].items():
            if _sha256(folder / name) != expected:
                raise InvalidInput("model", f"{folder / name} does not match its card (changed?)")
        est = cls(RulSettings(**card["settings"]))
        est.channels_in = card["channels_in"]
        with np.load(folder / "scaling.npz") as arrays:
            est.keep, est.mean, est.scale = arrays["keep"], arrays["mean"], arrays["scale"]
        for i in range(est.settings.members):
            net = _Net(int(est.keep.size))
            net.load_state_dict(torch.load(folder / f"net{i}.pt", weights_only=True))
            est.nets.append(net.eval())
        return est


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


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def phm_score(predicted: np.ndarray, actual: np.ndarray) -> float:
    """The PHM 2008 challenge score: late predictions cost more than early ones."""
    d = np.asarray(predicted, float) - np.asarray(actual, float)
    return float(np.sum(np.where(d < 0, np.exp(-d / 13) - 1, np.exp(d / 10) - 1)))
