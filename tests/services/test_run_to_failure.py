"""Run-to-failure RUL in the product: failures recorded as maintenance events, a model
trained as a job on the failed runs of machines of one kind, and a machine's health that
then reports that model's RUL for its current run.

The fleet: six presses read every 10 min, each running until a recorded failure after
14 to 29 days; their vibration wears up (quadratically, with noise) over the last 8 days
of each life. A new press of the same kind is 4 days from failure (mid-wear, at an age
past every trained life, so its age alone says "failed"); a third is young and unworn.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from dure.domain.jobs import JobStatus
from dure.domain.maintenance import MaintenanceEvent, MaintenanceKind
from dure.domain.model_versions import ModelVersion
from dure.domain.plant import Asset
from dure.domain.times import from_us
from dure.domain.users import Caller
from dure.errors import InvalidInput, NotFound, StateConflict
from dure.services.inspection.records import store_blob
from dure.services.maintenance.events import delete_event, events_of, record_event
from dure.services.maintenance.health import asset_health
from dure.services.maintenance.machines import machine_view, machines_view
from dure.services.maintenance.run_to_failure import (
    DEFAULT_KIND,
    TASK,
    failed_runs_of_kind,
    history,
    queue_rul_training,
    runs_of,
    trained_for,
    training_set,
)
from dure.services.platform.jobs import JobRunner
from dure.services.platform.model_files import MEDIA_TYPE
from dure.store.session import Store
from tests.services.run_to_failure_world import LIVES, T0, new_org, press, run_fleet


def _train(store: Store, caller: Caller, runner: JobRunner, asset_id: str) -> str:
    with store.session(caller) as s:
        job = queue_rul_training(s, asset_id, epochs=40, members=1)
    assert runner.run_next() is not None
    with store.session(caller) as s:
        done = s.jobs.get(job.id)
    assert done.status == JobStatus.SUCCEEDED, done.error
    assert done.progress == 1.0 and done.result["histories"] == len(LIVES)
    return str(done.result["model_id"])


def test_a_trained_model_gives_the_rul_of_a_press_mid_wear(store: Store, runner: JobRunner) -> None:
    caller = new_org(store, "fleet")
    fleet = run_fleet(store, caller)
    # 30-day life, seen up to day 26: 4 days (96 h) left, older than any trained press
    worn = press(store, caller, "press-new", 30.0, 26.0, seed=40)
    young = press(store, caller, "press-young", 30.0, 10.0, seed=41)
    inches = press(store, caller, "press-inches", 30.0, 26.0, seed=42, vibration_unit="in/s")
    model_id = _train(store, caller, runner, fleet[0])

    with store.session(caller) as s:
        version = s.model_versions.get(model_id)
        health = asset_health(s, worn)
        summary = health.summary()
        fresh = asset_health(s, young).summary()
        other_units = asset_health(s, inches).summary()["model"]
        rows = {m["name"]: m for m in machines_view(s)["machines"]}
    assert version.task == TASK and version.status == "ready"
    card = version.card
    assert card["asset_kind"] == "press" and card["histories"] == 6
    assert card["channels"] == ["motor_current", "vibration_rms"]
    assert card["units"] == {"motor_current": "A", "vibration_rms": "mm/s"}
    # a machine of the kind whose vibration is in other units gets no trained estimate
    assert other_units["rul_source"] == "degradation index"
    assert (
        "vibration_rms is in 'in/s', the model learned 'mm/s'" in other_units["rul_model_skipped"]
    )
    # the grid: 10 min x k, the median run (21.5 days) at most 120 steps -> 26 x 10 min
    assert card["cycle_hours"] == pytest.approx(26 / 6)
    assert card["validation"]["rmse_hours"] > 0

    model = summary["model"]
    assert model["source"] == "trained on 6 run-to-failure histories"
    assert model["rul_source"] == "trained"
    assert model["rul_model"]["model_id"] == model_id
    assert model["rul_model"]["asset_kind"] == "press"
    assert model["kind"] == "health-index"  # the index still gives health % and its chart
    truth_h = 96.0
    rul_h = summary["rul"]["hours"]
    assert abs(rul_h["value"] - truth_h) < 48, summary["rul"]
    # better than the wrong answer: by age alone (mean trained life - age) it has failed
    by_age_h = max(np.mean(LIVES) - 26.0, 0.0) * 24
    assert abs(rul_h["value"] - truth_h) < abs(by_age_h - truth_h) / 2
    assert rul_h["low"] <= rul_h["value"] and (
        rul_h["high"] is None or rul_h["value"] <= rul_h["high"]
    )
    assert summary["status"] == "degrading"
    # the RUL counts from the newest reading, not from the end of the last grid row
    with store.session(caller) as s:
        asset = s.assets.get(worn)
        trained = trained_for(s, asset)
        current = runs_of(s, asset)[1]
        assert trained is not None and current is not None
        grid = history(s, current, trained.channels, trained.step_us)
    assert grid is not None
    newest_us = current.end_us - 1
    assert model["rul_model"]["rul_at"] == from_us(newest_us).isoformat() == summary["as_of"]
    row_end_us = current.start_us + len(grid) * trained.step_us
    assert row_end_us > newest_us
    from_model_h = float(trained.model.predict([grid])[0]) * card["cycle_hours"]
    assert rul_h["value"] == pytest.approx(
        from_model_h + (row_end_us - newest_us) / 3.6e9, abs=0.01
    )
    assert summary["drivers"][0]["name"] == "vibration_rms"
    assert sum(d["share"] for d in summary["drivers"]) == pytest.approx(1.0, abs=1e-3)
    # an unworn press of the same kind has much more life left
    assert fresh["model"]["rul_source"] == "trained"
    assert fresh["rul"]["hours"]["value"] > rul_h["value"] + 72
    # the Machines views say which model gave the RUL; the detail lists the events
    assert rows["press-new"]["rul_source"] == "trained"
    assert rows["press-new"]["rul_model"]["model_id"] == model_id
    # a press with no reading since its failure is learning normal, not judged by its old run
    assert rows["press-0"]["status"] == "no data"
    assert "learning normal since the failure" in rows["press-0"]["problem"]


def test_a_repair_starts_a_new_run_and_the_grid_counts_down_to_the_failure(
    store: Store,
) -> None:
    caller = new_org(store, "runs")
    asset_id = press(store, caller, "press", 20.0, 20.0, seed=1)
    with store.session(caller) as s:
        record_event(s, asset_id, "failure", T0 + timedelta(days=12))
        record_event(s, asset_id, "repair", T0 + timedelta(days=13), "new bearing")
        failed, current = runs_of(s, s.assets.get(asset_id))
        assert [e.kind for e in s.maintenance_events.of_asset(asset_id)] == [
            MaintenanceKind.FAILURE,
            MaintenanceKind.REPAIR,
        ]
    (run,) = failed
    assert from_us(run.start_us) == T0 and run.hours == pytest.approx(12 * 24)
    assert current is not None and from_us(current.start_us) == T0 + timedelta(days=13)
    assert current.hours == pytest.approx(7 * 24, abs=0.2)


def test_a_machine_of_the_default_kind_is_not_trained_for(store: Store) -> None:
    caller = new_org(store, "generic")
    (asset_id,) = run_fleet(store, caller, failures=1)
    with store.session(caller) as s:
        generic = s.assets.add(Asset(org_id=caller.org_id, name="unnamed"))
        assert generic.kind == DEFAULT_KIND == "machine"
        with pytest.raises(StateConflict) as info:
            queue_rul_training(s, generic.id)
        assert info.value.field == "asset_id"
        assert "set the asset's kind" in info.value.detail and '"press"' in info.value.detail
        assert s.jobs.list_own() == []


def test_too_few_failed_histories_is_a_conflict_saying_how_many(store: Store) -> None:
    caller = new_org(store, "few")
    (asset_id,) = run_fleet(store, caller, failures=1)
    with store.session(caller) as s, pytest.raises(StateConflict) as info:
        queue_rul_training(s, asset_id)
    assert info.value.field == "asset_id"
    assert "have 1 recorded run" in info.value.detail
    with store.session(caller) as s:
        assert s.jobs.list_own() == []
        for bad, field in ((dict(epochs=0), "epochs"), (dict(members=9), "members")):
            with pytest.raises(InvalidInput) as wrong:
                queue_rul_training(s, asset_id, **bad)
            assert wrong.value.field == field


def test_bad_maintenance_events_are_refused_naming_the_field(store: Store) -> None:
    caller = new_org(store, "bad")
    asset_id = press(store, caller, "press", 10.0, 5.0, seed=2)
    other = new_org(store, "other")
    theirs = press(store, other, "their-press", 10.0, 5.0, seed=3)
    fine = T0 + timedelta(days=2)
    with store.session(caller) as s:
        kept = record_event(s, asset_id, "repair", fine, "greased")
    for kind, at, note, field in (
        ("explosion", fine, "", "kind"),
        ("failure", datetime.now(UTC) + timedelta(days=1), "", "occurred_at"),
        ("failure", T0 - timedelta(hours=1), "", "occurred_at"),
        ("failure", fine, "x" * 5000, "note"),
    ):
        with store.session(caller) as s, pytest.raises(InvalidInput) as info:
            record_event(s, asset_id, kind, at, note)
        assert info.value.field == field, (kind, at)
    with store.session(caller) as s:
        with pytest.raises(NotFound):
            record_event(s, theirs, "failure", fine)
        with pytest.raises(NotFound):
            events_of(s, theirs)
        assert [e.id for e in events_of(s, asset_id)] == [kept.id]  # nothing half-written
        actions = [(e.action, e.resource) for e in s.audit_events.list_own()]
        assert ("create", "maintenance_event") in actions
    with store.session(other) as s:
        with pytest.raises(NotFound):
            delete_event(s, asset_id, kept.id)
        with pytest.raises(NotFound):
            delete_event(s, theirs, kept.id)  # their asset, our event
    with store.session(caller) as s:
        assert delete_event(s, asset_id, kept.id).id == kept.id
        assert events_of(s, asset_id) == []
        deleted = [e for e in s.audit_events.list_own() if e.action == "delete"]
        assert deleted and deleted[0].resource_id == kept.id


def test_another_organisations_failures_and_models_stay_its_own(
    store: Store, runner: JobRunner
) -> None:
    caller = new_org(store, "owner")
    fleet = run_fleet(store, caller)
    _train(store, caller, runner, fleet[0])
    other = new_org(store, "neighbour")
    theirs = press(store, other, "press", 30.0, 26.0, seed=5)
    with store.session(other) as s:
        assert failed_runs_of_kind(s, "press") == []
        assert s.model_versions.list_own(task=TASK) == []
        summary = asset_health(s, theirs).summary()
        with pytest.raises(StateConflict):
            queue_rul_training(s, theirs)
        with pytest.raises(NotFound):
            queue_rul_training(s, fleet[0])
    assert summary["model"]["rul_source"] == "degradation index"
    assert summary["model"]["rul_model"] is None


def test_a_failure_and_a_repair_at_the_same_instant_keep_the_failed_run(store: Store) -> None:
    caller = new_org(store, "same")
    asset_id = press(store, caller, "press", 20.0, 20.0, seed=6)
    at = T0 + timedelta(days=12)
    with store.session(caller) as s:
        # ids chosen so that an order by (occurred_at, id) puts the repair first
        for event_id, kind in (
            ("zzzz-failure", MaintenanceKind.FAILURE),
            ("0000-repair", MaintenanceKind.REPAIR),
        ):
            s.maintenance_events.add(
                MaintenanceEvent(
                    id=event_id, org_id=caller.org_id, asset_id=asset_id, kind=kind, occurred_at=at
                )
            )
        failed, current = runs_of(s, s.assets.get(asset_id))
    (run,) = failed
    assert from_us(run.end_us) == at and run.hours == pytest.approx(12 * 24)
    assert current is not None and from_us(current.start_us) == at


def test_a_failure_recorded_long_after_the_last_reading_is_skipped_not_learned_flat(
    store: Store,
) -> None:
    caller = new_org(store, "late")
    run_fleet(store, caller, failures=3)
    # read until day 19.75 of 20 (6 h: under two steps), and until day 14 of 20 (6 days)
    near = press(store, caller, "press-near", 20.0, 19.75, seed=7)
    late = press(store, caller, "press-late", 20.0, 14.0, seed=8)
    with store.session(caller) as s:
        for asset_id in (near, late):
            record_event(s, asset_id, "failure", T0 + timedelta(days=20))
        data = training_set(s, "press")
    assert [r.asset.name for r in data.runs] == ["press-0", "press-1", "press-2", "press-near"]
    (skipped,) = data.skipped
    assert skipped.startswith("press-late run ending") and "steps before the failure" in skipped
    # the grid stops at the last reading; its target is the true gap to the failure
    rows, remaining = data.histories[-1], data.remaining[-1]
    step_h = data.step_us / 3_600_000_000
    assert len(rows) == int(np.ceil(19.75 * 24 / step_h))
    assert remaining[-1] == pytest.approx(20 * 24 / step_h - len(rows))
    assert remaining[-1] > 0.5


def test_a_model_whose_file_is_gone_or_damaged_is_skipped_not_fatal(store: Store) -> None:
    caller = new_org(store, "broken")
    asset_id = press(store, caller, "press", 30.0, 10.0, seed=9)
    with store.session(caller) as s:
        sha = store_blob(s, b"not a model folder", MEDIA_TYPE, "rul-model-press.tar")
        for blob in ("f" * 64, sha):  # missing from the blob store; stored but no model
            s.model_versions.add(
                ModelVersion(
                    org_id=caller.org_id,
                    name="rul press",
                    version=s.model_versions.next_version("rul press"),
                    task=TASK,
                    blob_sha256=blob,
                    card={"asset_kind": "press", "channels": ["vibration_rms"]},
                    status="ready",
                )
            )
            summary = asset_health(s, asset_id).summary()
            (row,) = machines_view(s)["machines"]
            assert summary["model"]["rul_source"] == "degradation index"
            assert summary["model"]["rul_model_skipped"], blob
            assert row["problem"] is None and row["health_percent"] is not None


def test_after_a_repair_health_is_judged_on_the_new_run_only(store: Store) -> None:
    caller = new_org(store, "repaired")
    asset_id = press(store, caller, "press", 20.0, 20.0, seed=10)  # worn from day 12
    with store.session(caller) as s:
        record_event(s, asset_id, "failure", T0 + timedelta(days=15))
        record_event(s, asset_id, "repair", T0 + timedelta(days=16), "new bearing")
        summary = asset_health(s, asset_id).summary()
        view = machine_view(s, asset_id, points=50)
    repaired = T0 + timedelta(days=16)
    assert datetime.fromisoformat(summary["model"]["baseline_from"]) >= repaired
    assert datetime.fromisoformat(summary["index"]["series"][0]["time"]) >= repaired
    assert [e["kind"] for e in view["maintenance_events"]] == ["repair", "failure"]
    # a repair 2 days before the newest reading: too few readings to learn normal from
    with store.session(caller) as s:
        record_event(s, asset_id, "replacement", T0 + timedelta(days=18))
    with store.session(caller) as s:
        with pytest.raises(StateConflict) as info:
            asset_health(s, asset_id)
        (row,) = machines_view(s)["machines"]
        learning = machine_view(s, asset_id, points=50)
    assert learning["health"] is None and learning["channels"] == []
    assert learning["problem"] == info.value.detail
    assert [e["kind"] for e in learning["maintenance_events"]][0] == "replacement"
    assert info.value.field == "asset_id"
    assert "learning normal since the replacement at 2026-06-19T00:00:00+00:00" in info.value.detail
    assert "288 of 510 readings" in info.value.detail
    assert row["status"] == "no data" and row["problem"] == info.value.detail
