"""An edge box end to end, with real parts only: a taught inspector on the real site app
(served over HTTP), `dure edge enrol`, the runtime from edge.toml, images dropped into the
camera folder -> verdicts on MQTT and the PLC node, one inspection record each on the site;
then the site's chosen threshold moves, so it offers a new package, and the box switches
between two images of a steady feed: results carry the old, then the new package id, and
none is lost. The site is also stopped for a while mid-feed (an outage) and nothing is lost.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from click.testing import CliRunner

from dure.bench.mosquitto import Mosquitto
from dure.cli import main
from dure.domain.edge import source_key
from dure.edge.config import parse_config
from dure.edge.runtime import EdgeRuntime
from dure.ports import free_port
from dure.services.demo.sheet_metal import sheet_image
from dure.services.inspection.thresholds import set_threshold
from dure.settings import Settings
from dure.store.session import Store
from tests.edge.site_server import ServedSite
from tests.edge.test_outputs import Plc
from tests.factories import World
from tests.services.inspection_world import SIZE, engineer_of_a, png

pytest.importorskip("dure.models.vision.onnx_inspector")


def wait_until(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def drop(inbox: Path, name: str, data: bytes) -> None:
    tmp = inbox / f"{name}.part"
    tmp.write_bytes(data)
    os.replace(tmp, inbox / name)


def part_image(k: int) -> tuple[str, bytes]:
    label = "scratch" if k % 4 == 3 else "good"
    return f"P{k:04d}-{label}.png", png(sheet_image(900 + k, label, SIZE).pixels)


@pytest.mark.edge
def test_an_edge_box_inspects_forwards_once_and_switches_models(
    settings: Settings,
    store: Store,
    world: World,
    trained: str,
    mosquitto: Mosquitto,
    tmp_path: Path,
) -> None:
    site = ServedSite(settings, store)
    site.start()
    home, inbox = tmp_path / "box", tmp_path / "inbox"
    inbox.mkdir()
    engineer_token, operator_token = tmp_path / "engineer.token", tmp_path / "operator.token"
    engineer_token.write_text(world.a.tokens["engineer"])
    operator_token.write_text(world.a.tokens["operator"])
    enrolled = CliRunner().invoke(
        main,
        ["edge", "enrol", "--site", site.url, "--token-file", str(engineer_token),
         "--name", "press-1 camera", "--model", trained, "--home", str(home)],
    )  # fmt: skip
    assert enrolled.exit_code == 0, enrolled.output
    assert "site key fingerprint:" in enrolled.output
    edge_id = json.loads((home / "edge.json").read_text())["edge_id"]

    verdicts: list[dict[str, Any]] = []
    sub = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    sub.on_message = lambda c, u, m: verdicts.append(json.loads(m.payload))
    sub.connect("127.0.0.1", mosquitto.port)
    sub.subscribe("line1/verdicts", qos=1)
    sub.loop_start()
    plc = Plc(free_port()).__enter__()
    config = parse_config(
        {
            "home": str(home), "token_file": str(operator_token), "model_poll_s": 0.5,
            "status_every_s": 0.5, "input": {"folder": str(inbox), "poll_s": 0.01},
            "output": {"mqtt_host": "127.0.0.1", "mqtt_port": mosquitto.port,
                       "mqtt_topic": "line1/verdicts", "opcua_endpoint": plc.endpoint,
                       "opcua_reject_node": plc.reject_node, "opcua_score_node": plc.score_node},
        }
    )  # fmt: skip
    runtime = EdgeRuntime(config)
    runtime.start()
    loop = threading.Thread(target=runtime.loop.run, daemon=True)
    loop.start()
    try:
        wait_until(lambda: runtime.loop.model is not None, 120, "the first model package")
        first_package = runtime.loop.active_package()
        names = []
        for k in range(8):
            name, data = part_image(k)
            drop(inbox, name, data)
            names.append(name)
        wait_until(lambda: runtime.spool.counts()["sent"] == 8, 120, "8 results on the site")
        wait_until(lambda: len(verdicts) == 8, 30, "8 verdicts on MQTT")
        assert [v["serial"] for v in verdicts] == names
        assert {v["package_id"] for v in verdicts} == {first_package}
        assert [v["verdict"] for v in verdicts[3::4]] == ["ng", "ng"]  # the scratched parts
        wait_until(lambda: runtime.gate is not None and runtime.gate.written == 8, 30, "PLC")

        # the site's threshold moves -> a new package; the box switches mid-feed, and
        # the site is away for a while meanwhile
        with store.session(engineer_of_a(world)) as s:
            model = s.model_versions.get(trained)
            current = float(model.card["threshold"]["value"])
            set_threshold(s, trained, current * 1.25)
        # a steady feed until the box has switched and taken 8 images with the new model;
        # the site goes away for 3 s early on
        k, after_switch, stopped = 8, 0, False
        while after_switch < 8:
            assert k < 400, "the box never switched to the new package"
            name, data = part_image(k)
            drop(inbox, name, data)
            names.append(name)
            k += 1
            if k == 12:
                site.stop()
                stopped = True
            if stopped and k == 30:
                site.start()
            if runtime.loop.active_package() != first_package:
                after_switch += 1
            time.sleep(0.05)
        total = len(names)
        wait_until(lambda: runtime.spool.counts()["sent"] == total, 180, "all results on the site")
        wait_until(lambda: len(verdicts) == total, 30, "all verdicts")
        packages = [v["package_id"] for v in verdicts]
        switch = packages.index(next(p for p in packages if p != first_package))
        assert set(packages[:switch]) == {first_package}
        assert len(set(packages[switch:])) == 1 and switch >= 8  # old, then new; no mixing
        assert runtime.spool.counts() == {"pending": 0, "sent": total, "refused": 0}
        rids = {v["rid"] for v in verdicts}
        assert len(rids) == total
        with store.session(engineer_of_a(world), read_only=True) as s:
            records = s.inspections.made_from([source_key(edge_id, r) for r in rids])
            assert len(records) == total
            assert sorted(r.serial for r in records.values()) == sorted(names)
            by_rid = {v["rid"]: v for v in verdicts}
            for key, record in records.items():
                sent = by_rid[key.rsplit(":", 1)[1]]
                assert record.score == pytest.approx(sent["score"])
                assert (
                    record.verdict.value == sent["verdict"]
                    or str(record.verdict) == sent["verdict"]
                )
        runtime.write_status()
        status = json.loads((home / "status.json").read_text())
        assert status["latency"]["n"] == total and status["latency"]["p99_ms"] > 0
        latency = status["latency"]
        print(
            f"\nedge latency per image: p50 {latency['p50_ms']:.1f} ms, "
            f"p99 {latency['p99_ms']:.1f} ms, RSS {status['rss_mb']:.0f} MB"
        )
        shown = CliRunner().invoke(main, ["edge", "status", "--home", str(home)])
        assert shown.exit_code == 0 and f'"sent": {total}' in shown.output
    finally:
        runtime.stop()
        loop.join(10)
        sub.loop_stop()
        sub.disconnect()
        plc.__exit__(None, None, None)
        site.stop()
