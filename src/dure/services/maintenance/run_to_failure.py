"""Remaining useful life learned from run-to-failure histories of machines of one kind.

A *run* of a machine starts at its first reading or at its previous maintenance event
(failure, repair or replacement) and ends at the next failure; runs that end in a failure
are the histories a ``RulEstimator`` learns from, for every machine of the organisation
that has the same ``Asset.kind``. A machine's *current* run (since its last event) is
what the learned model estimates the remaining life of.

Readings come at uneven times (the demo's feed every 2 s, hourly imports, gaps), so each
run is resampled onto a regular grid before it reaches the estimator, whose "cycle" is
then one grid step: the step is the median interval between readings times the smallest
whole ``k`` that keeps the median run at most ``TARGET_ROWS`` rows (so the network sees a
sensible count of cycles whatever the sampling); each row is the channels' bucket means
over the step (computed by the database), a bucket without readings repeats the one
before. The remaining life of a row is failure time − the row's end, in steps, and is
turned into hours with the step (its resolution is one step). Channels are matched
across machines by name (their units must agree; the card keeps them and a machine whose
units differ gets no estimate); the model learns the channels every trained machine has.
Machines of the generic default kind ("machine") are not trained for: set their kind.

The model is kept as a model version of task ``rul-run-to-failure`` (the estimator's
folder packed as a blob, with a card naming the kind, channels, step and histories), and
``asset_health`` prefers it to the degradation index for the machines of that kind.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from dure.domain.ids import utcnow
from dure.domain.jobs import Job, JobKind
from dure.domain.maintenance import MaintenanceEvent, MaintenanceKind
from dure.domain.model_versions import ModelVersion
from dure.domain.plant import Asset
from dure.domain.times import from_us, to_us
from dure.domain.users import Caller
from dure.errors import InvalidInput, StateConflict
from dure.models.timeseries.health import DEGRADING, FAILED, NOT_DEGRADING, RemainingLife
from dure.models.timeseries.resample import grid_step, regular_grid
from dure.models.timeseries.rul import RulEstimator
from dure.services.inspection.records import store_blob
from dure.services.platform.model_files import MEDIA_TYPE, model_bytes, model_from_bytes
from dure.store.session import Session, Store

TASK = "rul-run-to-failure"
MIN_HISTORIES = 2
TARGET_ROWS = 120  # rows of the median run on the grid (C-MAPSS engines run ~200 cycles)
MIN_ROWS = 5  # a run shorter than this many steps is too short to learn from
MAX_END_GAP_STEPS = 3  # a failure recorded later than this after the last reading: skipped
INTERVAL_SAMPLE = 500  # readings per run read to measure the sampling interval
US_PER_HOUR = 3_600_000_000
# The estimator as the product trains it: small and quick on a CPU (demo-sized data
# trains in seconds). Small batches, as the histories give few hundred windows.
WIDTH = 16
BATCH = 32
DEFAULT_EPOCHS = 40
DEFAULT_MEMBERS = 3
MAX_EPOCHS = 200
MAX_MEMBERS = 5
MAX_WINDOW = 30
DEFAULT_KIND = "machine"  # Asset.kind's default: nobody said what kind of machine it is
NEAR_CAP = 0.95  # an estimate this close to the longest learned life: no wear seen yet


@dataclass(frozen=True)
class Run:
    """One run of a machine: from ``start_us`` to ``end_us`` (its failure, or its newest
    reading for the current run)."""

    asset: Asset
    start_us: int
    end_us: int
    failure: MaintenanceEvent | None = None

    @property
    def hours(self) -> float:
        """How long the run lasted (so far)."""
        return (self.end_us - self.start_us) / US_PER_HOUR


def _channels_by_name(session: Session, asset: Asset) -> dict[str, str]:
    return {c.name: c.id for c in session.channels.list_own(asset_id=asset.id)}


def _units_by_name(session: Session, asset: Asset) -> dict[str, str]:
    return {c.name: c.unit for c in session.channels.list_own(asset_id=asset.id)}


def _reading_span(session: Session, asset: Asset) -> tuple[int, int] | None:
    """The asset's first and newest reading times over all its channels (None: none)."""
    firsts, lasts = [], []
    for channel_id in _channels_by_name(session, asset).values():
        first = session.readings.first_ts_us(channel_id)
        if first is not None:
            firsts.append(first)
            lasts.append(session.readings.latest_ts_us(channel_id))
    return (min(firsts), max(lasts)) if firsts else None


def first_reading_us(session: Session, asset: Asset) -> int | None:
    """When the asset's oldest stored reading was taken (None before any reading)."""
    span = _reading_span(session, asset)
    return None if span is None else span[0]


def runs_of(session: Session, asset: Asset) -> tuple[list[Run], Run | None]:
    """The asset's runs that ended in a failure, and its current run (since its newest
    event, up to its newest reading; None when no reading came after that event)."""
    span = _reading_span(session, asset)
    if span is None:
        return [], None
    start, newest = span
    failed = []
    for event in session.maintenance_events.of_asset(asset.id):
        at = to_us(event.occurred_at)
        if event.kind is MaintenanceKind.FAILURE and at > start:
            failed.append(Run(asset, start, at, event))
        start = max(start, at)
    current = Run(asset, start, newest + 1) if newest >= start else None
    return failed, current


def failed_runs_of_kind(session: Session, kind: str) -> list[Run]:
    """Every run to failure of the caller's machines of ``kind``, oldest machine first."""
    runs: list[Run] = []
    for asset in session.assets.list_own(kind=kind):
        runs.extend(runs_of(session, asset)[0])
    return runs


def _interval_us(session: Session, run: Run, channel_id: str) -> np.ndarray:
    readings = session.readings.read(channel_id, run.start_us, run.end_us, INTERVAL_SAMPLE)
    return np.diff(np.array([r.ts_us for r in readings], dtype=np.int64))


def history(session: Session, run: Run, channels: list[str], step_us: int) -> np.ndarray | None:
    """The run on the grid: (rows, channels) bucket means of the named channels, a row per
    ``step_us`` from the run's start, up to the last bucket where every channel has a
    reading (a failure recorded long after the readings stopped does not add rows that
    repeat the last value); None when a channel is missing or has no reading."""
    by_name = _channels_by_name(session, run.asset)
    if any(name not in by_name for name in channels):
        return None
    rows = int(np.ceil((run.end_us - run.start_us) / step_us))
    if rows < 1:
        return None
    columns = [
        session.readings.bucket_means(by_name[name], run.start_us, run.end_us, step_us)
        for name in channels
    ]
    if any(numbers.size == 0 for numbers, _ in columns):
        return None
    rows = min(rows, min(int(numbers[-1]) for numbers, _ in columns) + 1)
    return regular_grid(columns, rows)


def gap_steps(run: Run, rows: int, step_us: int) -> float:
    """Steps from the end of the run's last grid row to the run's end (its failure)."""
    return (run.end_us - (run.start_us + rows * step_us)) / step_us


def remaining_steps(run: Run, rows: int, step_us: int) -> np.ndarray:
    """Remaining life of each grid row of a failed run, in steps: failure − the row's end."""
    ends = run.start_us + step_us * np.arange(1, rows + 1, dtype=np.int64)
    return np.maximum(run.end_us - ends, 0) / step_us  # type: ignore[no-any-return]


# ---- training -----------------------------------------------------------------------------
def queue_rul_training(
    session: Session,
    asset_id: str,
    epochs: int = DEFAULT_EPOCHS,
    members: int = DEFAULT_MEMBERS,
) -> Job:
    """Queue the training of a run-to-failure RUL model for the kind of machine
    ``asset_id`` is, from every failed run of the caller's machines of that kind.

    StateConflict (naming ``asset_id``) with fewer than ``MIN_HISTORIES`` failed runs.
    """
    if not 1 <= epochs <= MAX_EPOCHS:
        raise InvalidInput("epochs", f"must be between 1 and {MAX_EPOCHS}, got {epochs}")
    if not 1 <= members <= MAX_MEMBERS:
        raise InvalidInput("members", f"must be between 1 and {MAX_MEMBERS}, got {members}")
    asset = session.assets.get(asset_id)
    session.model_versions.require_write()
    if asset.kind == DEFAULT_KIND:
        raise StateConflict(
            "asset_id",
            f"{asset.name!r} has the generic kind {DEFAULT_KIND!r}: a run-to-failure model is "
            'shared by the machines of one kind, so set the asset\'s kind first (e.g. "press")',
        )
    runs = failed_runs_of_kind(session, asset.kind)
    if len(runs) < MIN_HISTORIES:
        raise StateConflict(
            "asset_id",
            f"your machines of kind {asset.kind!r} have {len(runs)} recorded run(s) to "
            f"failure; a run-to-failure model needs at least {MIN_HISTORIES}: record "
            "failures (and repairs) with POST /api/assets/{id}/maintenance-events",
        )
    return session.jobs.add(
        Job(
            org_id=session.caller.org_id,
            kind=JobKind.TRAIN_RUL_MODEL,
            subject_id=asset.id,
            params={"asset_kind": asset.kind, "epochs": epochs, "members": members},
            created_by=session.caller.user_id,
        )
    )


class _Progress:
    """Writes job progress in short transactions of their own."""

    def __init__(self, store: Store, caller: Caller, job_id: str) -> None:
        self.store, self.caller, self.job_id = store, caller, job_id

    def __call__(self, share: float, step: str) -> None:
        with self.store.session(self.caller) as s:
            s.jobs.report(self.job_id, share, step)


@dataclass(frozen=True)
class TrainingSet:
    """Failed runs on one grid, ready for the estimator."""

    channels: list[str]
    units: dict[str, str]
    step_us: int
    runs: list[Run]
    histories: list[np.ndarray]
    remaining: list[np.ndarray]
    skipped: list[str]


def training_set(session: Session, kind: str) -> TrainingSet:
    """The caller's failed runs of machines of ``kind`` on a common grid and channels."""
    runs = failed_runs_of_kind(session, kind)
    names = [set(_channels_by_name(session, r.asset)) for r in runs]
    channels = sorted(set.intersection(*names)) if names else []
    if not channels:
        raise StateConflict("asset_id", f"the {kind!r} machines share no sensor channel by name")
    first = _channels_by_name
    intervals = np.concatenate(
        [_interval_us(session, r, first(session, r.asset)[channels[0]]) for r in runs]
    )
    durations = np.array([r.end_us - r.start_us for r in runs], dtype=np.float64)
    try:
        step_us = int(round(grid_step(intervals, durations, TARGET_ROWS)))
    except InvalidInput as exc:
        raise StateConflict("asset_id", f"the failed runs have too few readings: {exc}") from exc
    kept, histories, remaining, skipped = [], [], [], []
    for run in runs:
        rows = history(session, run, channels, step_us)
        named = f"{run.asset.name} run ending {from_us(run.end_us).isoformat()}"
        if rows is None or len(rows) < MIN_ROWS:
            skipped.append(f"{named}: fewer than {MIN_ROWS} steps with every channel")
            continue
        gap = gap_steps(run, len(rows), step_us)
        if gap > MAX_END_GAP_STEPS:
            skipped.append(
                f"{named}: its last reading is {gap:.1f} steps before the failure "
                f"(at most {MAX_END_GAP_STEPS} are learned from)"
            )
            continue
        kept.append(run)
        histories.append(rows)
        remaining.append(remaining_steps(run, len(rows), step_us))
    if len(kept) < MIN_HISTORIES:
        raise StateConflict(
            "asset_id",
            f"{len(kept)} failed run(s) of {kind!r} machines hold at least {MIN_ROWS} steps "
            f"of {step_us / US_PER_HOUR:.3g} h with every channel; {MIN_HISTORIES} are needed",
        )
    units: dict[str, str] = {}
    for run in kept:
        for name, unit in _units_by_name(session, run.asset).items():
            if name in channels and units.setdefault(name, unit) != unit:
                raise StateConflict(
                    "asset_id",
                    f"channel {name!r} is in {units[name]!r} on one {kind!r} machine and in "
                    f"{unit!r} on {run.asset.name!r}: the units must agree",
                )
    return TrainingSet(channels, units, step_us, kept, histories, remaining, skipped)


def run_rul_training(store: Store, caller: Caller, job: Job) -> dict[str, Any]:
    """The job: learn a RulEstimator from the kind's failed runs, store it as a model
    version (ready) with its card. Nothing is stored unless training succeeds."""
    kind = str(job.params["asset_kind"])
    progress = _Progress(store, caller, job.id)
    progress(0.02, f"reading the failed runs of {kind!r} machines")
    with store.session(caller, read_only=True) as s:
        data = training_set(s, kind)
    step_h = data.step_us / US_PER_HOUR
    longest = max(len(h) for h in data.histories)
    shortest = min(len(h) for h in data.histories)
    estimator = RulEstimator(
        window=int(min(MAX_WINDOW, max(MIN_ROWS, shortest // 2))),
        cap=float(longest),  # no cap below the longest learned life
        epochs=int(job.params.get("epochs", DEFAULT_EPOCHS)),
        members=int(job.params.get("members", DEFAULT_MEMBERS)),
        width=WIDTH,
        batch=BATCH,
    )
    progress(
        0.1,
        f"training on {len(data.histories)} run-to-failure histories "
        f"({sum(len(h) for h in data.histories)} steps of {step_h:.3g} h)",
    )
    started = time.perf_counter()
    estimator.fit(data.histories, data.remaining)
    seconds = time.perf_counter() - started
    progress(0.9, "saving the model")
    errors_h = (estimator.calibration_predicted_ - estimator.calibration_actual_) * step_h
    card = {
        "asset_kind": kind,
        "channels": data.channels,
        "units": data.units,
        "step_seconds": data.step_us / 1e6,
        "cycle_hours": step_h,
        "histories": len(data.histories),
        "runs": [
            {
                "asset_id": r.asset.id,
                "asset_name": r.asset.name,
                "start": from_us(r.start_us).isoformat(),
                "failure": from_us(r.end_us).isoformat(),
                "steps": len(h),
            }
            for r, h in zip(data.runs, data.histories, strict=True)
        ],
        "skipped_runs": data.skipped,
        "grid": f"median reading interval x k, median run <= {TARGET_ROWS} steps",
        "params": {
            "window": estimator.window,
            "cap_steps": estimator.cap,
            "epochs": estimator.epochs,
            "members": estimator.members,
            "width": estimator.width,
            "batch": estimator.batch,
        },
        "validation": {
            "what": estimator.data_["calibration"] + " errors at random cut points",
            "errors": int(errors_h.size),
            "rmse_hours": round(float(np.sqrt(np.mean(errors_h**2))), 3),
            "mae_hours": round(float(np.mean(np.abs(errors_h))), 3),
        },
        "train_seconds": round(seconds, 2),
    }
    packed = model_bytes(estimator)
    name = f"rul {kind}"
    with store.session(caller) as s:
        sha = store_blob(s, packed, MEDIA_TYPE, f"rul-model-{kind}.tar")
        version = s.model_versions.add(
            ModelVersion(
                org_id=caller.org_id,
                name=name,
                version=s.model_versions.next_version(name),
                task=TASK,
                blob_sha256=sha,
                card=card,
                status="ready",
            )
        )
    return {
        "model_id": version.id,
        "asset_kind": kind,
        "histories": len(data.histories),
        "skipped_runs": data.skipped,
        "cycle_hours": step_h,
        "validation_rmse_hours": card["validation"]["rmse_hours"],
        "train_seconds": card["train_seconds"],
    }


# ---- estimates ----------------------------------------------------------------------------
_LOADED: OrderedDict[str, RulEstimator] = OrderedDict()
_LOCK = threading.Lock()
_CACHE_SIZE = 8


def _loaded(session: Session, sha256: str) -> RulEstimator:
    """The estimator stored as blob ``sha256``, kept loaded for the next request."""
    with _LOCK:
        if sha256 in _LOADED:
            _LOADED.move_to_end(sha256)
            return _LOADED[sha256]
    model = model_from_bytes(session.blob_store.get(sha256))
    if not isinstance(model, RulEstimator):
        raise InvalidInput("model_id", f"the stored model is a {model.kind}, not a RUL model")
    with _LOCK:
        _LOADED[sha256] = model
        while len(_LOADED) > _CACHE_SIZE:
            _LOADED.popitem(last=False)
    return model


@dataclass(frozen=True)
class TrainedRul:
    """A run-to-failure model of the caller's for one kind of machine."""

    version: ModelVersion
    model: RulEstimator

    @property
    def channels(self) -> list[str]:
        return list(self.version.card["channels"])

    @property
    def step_us(self) -> int:
        return int(round(float(self.version.card["step_seconds"]) * 1e6))

    def describe(self) -> dict[str, Any]:
        """Which model this is, for the answers that use it."""
        card = self.version.card
        return {
            "model_id": self.version.id,
            "name": self.version.name,
            "version": self.version.version,
            "asset_kind": card.get("asset_kind"),
            "trained_at": self.version.created_at.isoformat(),
            "histories": card.get("histories"),
            "cycle_hours": card.get("cycle_hours"),
            "channels": card.get("channels"),
            "validation_rmse_hours": (card.get("validation") or {}).get("rmse_hours"),
        }


def newest_rul_version(session: Session, kind: str) -> ModelVersion | None:
    """The caller's newest ready run-to-failure model for machines of ``kind``."""
    found = [
        v
        for v in session.model_versions.list_own(task=TASK)
        if v.blob_sha256 is not None and v.status == "ready" and v.card.get("asset_kind") == kind
    ]
    return max(found, key=lambda v: (v.created_at, v.version)) if found else None


def trained_for(session: Session, asset: Asset) -> TrainedRul | None:
    """The newest run-to-failure model trained for the asset's kind, loaded (or None)."""
    version = newest_rul_version(session, asset.kind)
    if version is None or version.blob_sha256 is None:
        return None
    return TrainedRul(version, _loaded(session, version.blob_sha256))


@dataclass(frozen=True)
class RulEstimate:
    """What a trained model says about the asset's current run."""

    life: RemainingLife
    drivers: list[dict[str, Any]]
    run_start: str
    run_hours: float
    rul_at: str  # the newest reading's time: the RUL counts from it


def estimate_current_run(
    session: Session, trained: TrainedRul, asset: Asset, coverage: float, index_now: float
) -> RulEstimate | str:
    """The remaining life (hours) of the asset's current run from its newest reading,
    its interval and the channels driving it; or, when the model cannot read this run,
    the reason why."""
    _, current = runs_of(session, asset)
    if current is None:
        return "no readings since the machine's last maintenance event"
    learned_units = trained.version.card.get("units") or {}  # older cards have none
    units = _units_by_name(session, asset)
    differ = [
        f"{name} is in {units.get(name)!r}, the model learned {unit!r}"
        for name, unit in learned_units.items()
        if name in units and units[name] != unit
    ]
    if differ:
        return "the machine's channel units differ from the model's: " + "; ".join(differ)
    rows = history(session, current, trained.channels, trained.step_us)
    if rows is None:
        return f"the machine lacks one of the model's channels {trained.channels} in this run"
    model = trained.model
    step_h = trained.step_us / US_PER_HOUR
    steps = float(model.predict([rows])[0])
    low, high = (float(v[0]) for v in model.predict_interval([rows], coverage))
    # the interval is the estimate shifted by errors made near it in calibration, which
    # can all lie on one side: the answer's range always holds its own estimate
    low, high = min(low, steps), max(high, steps)
    # the model counts from the end of the last grid row, which lies up to a step after
    # the newest reading: the answer counts from the newest reading
    newest_us = current.end_us - 1
    ahead_h = (current.start_us + len(rows) * trained.step_us - newest_us) / US_PER_HOUR
    shares = model.channel_importance(rows)
    by_name = _channels_by_name(session, asset)
    drivers = sorted(
        (
            {"channel_id": by_name[name], "name": name, "share": round(float(s), 4)}
            for name, s in zip(trained.channels, shares, strict=True)
        ),
        key=lambda d: -d["share"],
    )
    at_cap = steps >= NEAR_CAP * model.cap
    status = FAILED if steps <= 0 else (NOT_DEGRADING if at_cap else DEGRADING)
    life = RemainingLife(
        status=status,
        rul=steps * step_h + ahead_h,
        low=low * step_h + ahead_h,
        high=None if high >= NEAR_CAP * model.cap else high * step_h + ahead_h,
        coverage=coverage,
        index_now=index_now,
        trend="run-to-failure",
        slope=None,
        window=current.hours,
        reason=(
            f"learned from {trained.version.card.get('histories')} run-to-failure histories "
            f"of {asset.kind!r} machines, in steps of {step_h:.3g} h"
            + ("; no wear seen yet: at least the longest life learned" if at_cap else "")
        ),
    )
    return RulEstimate(
        life,
        drivers,
        from_us(current.start_us).isoformat(),
        current.hours,
        from_us(newest_us).isoformat(),
    )


def now_us() -> int:
    """The present, in microseconds (one place, for the checks of event times)."""
    return to_us(utcnow())
