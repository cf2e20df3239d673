"""The image loop's crash points, simulated in-process: a crash after the verdict and before
the spool commit, and one after the commit and before the camera file is let go of, each
followed by a restart over the same folders. The site sees one result per image (one spool
row, one rid); the line may see a verdict twice (at least once), never zero times.

The inspector here is a stand-in (mean brightness); tests/edge/test_edge_loop.py runs the
real OnnxInspector from a taught model."""

from __future__ import annotations

import io
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from dure.edge.loop import EdgeLoop
from dure.edge.models import ActiveModel
from dure.edge.sources import Arrival, FolderSource
from dure.edge.spool import ResultSpool


class Crash(BaseException):
    """The process dies here (not an Exception: nothing in the loop may catch it)."""


@dataclass(frozen=True)
class Finding:
    score: float
    threshold: float
    is_defect: bool
    defect_type: str | None
    type_confidence: float | None
    raw_map: np.ndarray


class MeanInspector:
    """Stand-in: score = mean brightness; defect above 0.5."""

    threshold = 0.5

    def inspect(self, images: Any, names: Any = ()) -> list[Finding]:
        out = []
        for image in images:
            score = float(np.asarray(image).mean() / 255)
            raw = np.full((4, 4), score, np.float32)
            out.append(
                Finding(score, 0.5, score >= 0.5, "dent" if score >= 0.5 else None, None, raw)
            )
        return out


class Verdicts:
    def __init__(self, crash_after: int | None = None) -> None:
        self.sent: list[dict[str, Any]] = []
        self.crash_after = crash_after

    def send(self, verdict: dict[str, Any]) -> None:
        self.sent.append(verdict)
        if self.crash_after is not None and len(self.sent) >= self.crash_after:
            raise Crash("killed after the verdict, before the spool commit")


class CrashOnRelease:
    """A folder source whose n-th release dies before the file is deleted."""

    def __init__(self, source: FolderSource, n: int) -> None:
        self.source, self.n, self.taken = source, n, 0

    def next(self, timeout_s: float) -> Arrival | None:
        arrival = self.source.next(timeout_s)
        if arrival is not None:
            self.taken += 1
            if self.taken == self.n:

                def die() -> None:
                    raise Crash("killed after the commit, before the file was deleted")

                arrival.release = die
        return arrival


def png(level: int) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.full((16, 16), level, np.uint8)).save(out, format="PNG")
    return out.getvalue()


def drop(inbox: Path, name: str, data: bytes, order: int) -> None:
    tmp = inbox / f"{name}.tmp"
    tmp.write_bytes(data)
    os.utime(tmp, (1_000_000 + order, 1_000_000 + order))
    os.replace(tmp, inbox / name)


MODEL = ActiveModel("pkg-1", "mv-1", MeanInspector())


def start(tmp_path: Path, outputs: list[Any], wrap: Any = None) -> tuple[EdgeLoop, ResultSpool]:
    spool = ResultSpool(tmp_path / "spool")
    source: Any = FolderSource(tmp_path / "inbox", tmp_path / "rejected", poll_s=0.01)
    if wrap is not None:
        source = wrap(source)
    loop = EdgeLoop("edge-1", source, spool, outputs)
    loop.switch(MODEL)
    return loop, spool


def drain(loop: EdgeLoop) -> None:
    while loop.step(timeout_s=0.05):
        pass


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    folder.mkdir()
    for i, level in enumerate([10, 200, 30, 250]):
        drop(folder, f"part-{i}.png", png(level), i)
    return folder


def test_a_clean_run_records_each_image_once_and_empties_the_folder(
    tmp_path: Path, inbox: Path
) -> None:
    verdicts = Verdicts()
    loop, spool = start(tmp_path, [verdicts])
    drain(loop)
    assert [v["serial"] for v in verdicts.sent] == [f"part-{i}.png" for i in range(4)]
    assert [v["verdict"] for v in verdicts.sent] == ["ok", "ng", "ok", "ng"]
    assert verdicts.sent[1]["defect_type"] == "dent" and verdicts.sent[1]["package_id"] == "pkg-1"
    assert spool.counts()["pending"] == 4 and not list(inbox.iterdir())
    row = spool.result(verdicts.sent[1]["rid"])
    assert row is not None and row["is_defect"] and row["model_version_id"] == "mv-1"
    assert row["image_filename"] == "part-1.png" and row["taken_at"].endswith("+00:00")


def test_a_crash_after_the_verdict_before_the_commit_redoes_the_image_with_its_rid(
    tmp_path: Path, inbox: Path
) -> None:
    first = Verdicts(crash_after=2)
    loop, spool = start(tmp_path, [first])
    with pytest.raises(Crash):
        drain(loop)
    spool.close()
    assert (inbox / "part-1.png").exists()  # not let go of
    second = Verdicts()
    loop, spool = start(tmp_path, [second])
    drain(loop)
    assert [v["serial"] for v in second.sent] == ["part-1.png", "part-2.png", "part-3.png"]
    assert second.sent[0]["rid"] == first.sent[1]["rid"]  # the PLC saw it twice, same rid
    assert spool.counts()["pending"] == 4  # one row per image
    assert not list(inbox.iterdir())


def test_a_crash_after_the_commit_before_the_release_only_lets_go_on_restart(
    tmp_path: Path, inbox: Path
) -> None:
    first = Verdicts()
    loop, spool = start(tmp_path, [first], wrap=lambda s: CrashOnRelease(s, 3))
    with pytest.raises(Crash):
        drain(loop)
    spool.close()
    assert (inbox / "part-2.png").exists() and len(first.sent) == 3
    second = Verdicts()
    loop, spool = start(tmp_path, [second])
    drain(loop)
    assert [v["serial"] for v in second.sent] == ["part-3.png"]  # part-2 was recorded
    assert loop.stats.duplicates == 1
    assert spool.counts()["pending"] == 4 and not list(inbox.iterdir())


def test_an_image_the_model_cannot_take_is_set_aside_with_its_reason(
    tmp_path: Path, inbox: Path
) -> None:
    drop(inbox, "zz-broken.png", b"not a png", 99)
    loop, spool = start(tmp_path, [Verdicts()])
    drain(loop)
    assert spool.counts()["pending"] == 4 and loop.stats.rejected == 1
    why = (tmp_path / "rejected" / "zz-broken.png.why.txt").read_text()
    assert "zz-broken.png" in why and "cannot be decoded" in why


def test_a_model_switch_lands_between_two_images(tmp_path: Path, inbox: Path) -> None:
    verdicts = Verdicts()
    loop, spool = start(tmp_path, [verdicts])
    loop.step(0.05)
    loop.step(0.05)
    loop.switch(ActiveModel("pkg-2", "mv-2", MeanInspector()))
    drain(loop)
    assert [v["package_id"] for v in verdicts.sent] == ["pkg-1", "pkg-1", "pkg-2", "pkg-2"]
    assert [spool.result(v["rid"])["package_id"] for v in verdicts.sent] == [  # type: ignore[index]
        "pkg-1", "pkg-1", "pkg-2", "pkg-2",
    ]  # fmt: skip


class Failing(MeanInspector):
    """Fails on the bright images (an onnxruntime error, say)."""

    def inspect(self, images: Any, names: Any = ()) -> list[Finding]:
        if np.asarray(images[0]).mean() > 128:
            raise RuntimeError("onnxruntime: bad input")
        return super().inspect(images, names)


def test_an_image_the_inspector_fails_on_is_set_aside_and_the_line_goes_on(
    tmp_path: Path, inbox: Path
) -> None:
    verdicts = Verdicts()
    loop, spool = start(tmp_path, [verdicts])
    loop.switch(ActiveModel("pkg-1", "mv-1", Failing()))
    drain(loop)
    assert [v["serial"] for v in verdicts.sent] == [f"part-{i}.png" for i in range(4)]
    assert [v["verdict"] for v in verdicts.sent] == ["ok", "error", "ok", "error"]
    assert loop.stats.rejected == 2 and not list(inbox.iterdir())
    why = (tmp_path / "rejected" / "part-1.png.why.txt").read_text()
    assert "inspection failed (RuntimeError: onnxruntime: bad input)" in why


def test_mqtt_images_survive_a_crash_between_commit_and_acknowledgement(
    tmp_path: Path, mosquitto: Any
) -> None:
    import time

    import paho.mqtt.client as mqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    from dure.edge.sources import MqttImageSource

    def connected(source: MqttImageSource) -> MqttImageSource:
        source.start()
        deadline = time.monotonic() + 10
        while not source.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        return source

    spool = ResultSpool(tmp_path / "spool")
    first = connected(MqttImageSource("127.0.0.1", mosquitto.port, "cam/+", "edge-crash"))
    camera = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    camera.connect("127.0.0.1", mosquitto.port)
    camera.loop_start()
    time.sleep(0.3)
    for i, level in enumerate([10, 200, 30]):
        props = Properties(PacketTypes.PUBLISH)
        props.UserProperty = [("image_id", f"S-{i}")]
        camera.publish("cam/1", png(level), qos=1, properties=props).wait_for_publish(10)
    verdicts = Verdicts()
    loop = EdgeLoop("edge-1", CrashOnRelease(first, 2), spool, [verdicts])
    loop.switch(MODEL)
    loop.step(5)
    with pytest.raises(Crash):  # S-1 committed, never acknowledged
        loop.step(5)
    first.client.loop_stop()  # the process dies: no DISCONNECT, nothing more acknowledged
    first.client.socket().close()
    second = connected(MqttImageSource("127.0.0.1", mosquitto.port, "cam/+", "edge-crash"))
    try:
        loop = EdgeLoop("edge-1", second, spool, [verdicts])
        loop.switch(MODEL)
        while loop.step(2.0):
            pass
        assert [v["serial"] for v in verdicts.sent] == ["S-0", "S-1", "S-2"]
        assert loop.stats.duplicates == 1  # S-1 came back and was recognised
        assert spool.counts()["pending"] == 3
    finally:
        second.stop()
        camera.loop_stop()
        camera.disconnect()


def test_a_full_disk_holds_the_image_and_the_line_goes_on_when_there_is_room(
    tmp_path: Path, inbox: Path
) -> None:
    # the spool's image file is written through /dev/full (ENOSPC, as on a full disk): the
    # box must hold the image (verdict sent once, file kept) until the write goes through,
    # not stop (a supervisor's restart would send the verdict again, and again)
    import threading

    from dure.edge.sources import result_id

    verdicts = Verdicts()
    loop, spool = start(tmp_path, [verdicts])
    rid = result_id("edge-1", "part-0.png", (inbox / "part-0.png").read_bytes())
    full = tmp_path / "spool" / "images" / f"{rid}.png.tmp"
    full.symlink_to("/dev/full")
    errors: list[BaseException] = []

    def one() -> None:
        try:
            loop.step(timeout_s=0.05)
        except BaseException as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)

    worker = threading.Thread(target=one)
    worker.start()
    deadline = time.monotonic() + 10
    while not verdicts.sent and time.monotonic() < deadline:
        time.sleep(0.02)
    worker.join(0.5)
    assert not errors, errors
    assert worker.is_alive() and (inbox / "part-0.png").exists()  # held, not given up
    full.unlink(missing_ok=True)  # room again
    worker.join(20)
    assert not worker.is_alive() and not errors, errors
    assert spool.has(rid) and not (inbox / "part-0.png").exists()
    assert [v["rid"] for v in verdicts.sent] == [rid]  # the line saw it once
    drain(loop)
    assert spool.counts()["pending"] == 4


def test_an_image_that_cannot_be_inspected_tells_the_line_to_reject_the_part(
    tmp_path: Path, inbox: Path
) -> None:
    # silence would leave the PLC's reject node at the last part's value (an OK, say): a
    # part the box could not judge must not pass as good
    drop(inbox, "part-1b.png", b"not a png", 1)
    verdicts = Verdicts()
    loop, spool = start(tmp_path, [verdicts])
    drain(loop)
    assert [v["verdict"] for v in verdicts.sent] == ["ok", "ng", "error", "ok", "ng"]
    error = verdicts.sent[2]
    assert error["serial"] == "part-1b.png" and "cannot be decoded" in error["reason"]
    assert error["score"] is None and error["package_id"] == "pkg-1"
    assert spool.counts()["pending"] == 4 and loop.stats.rejected == 1


def test_a_camera_folder_that_goes_away_is_waited_for(tmp_path: Path, inbox: Path) -> None:
    # a camera share unmounted, a folder removed: the box waits (logged), it does not end
    verdicts = Verdicts()
    loop, spool = start(tmp_path, [verdicts])
    loop.step(0.05)
    moved = tmp_path / "away"
    inbox.rename(moved)
    assert loop.step(0.05) is False
    moved.rename(inbox)
    drain(loop)
    assert [v["serial"] for v in verdicts.sent] == [f"part-{i}.png" for i in range(4)]


class FailingRelease(CrashOnRelease):
    """A folder source whose n-th release fails (the folder read-only, its share gone)."""

    def next(self, timeout_s: float) -> Arrival | None:
        arrival = self.source.next(timeout_s)
        if arrival is not None:
            self.taken += 1
            if self.taken == self.n:

                def fail() -> None:
                    raise PermissionError(13, "Permission denied")

                arrival.release = fail
        return arrival


def test_an_image_that_cannot_be_let_go_of_is_kept_once_and_the_line_goes_on(
    tmp_path: Path, inbox: Path
) -> None:
    verdicts = Verdicts()
    loop, spool = start(tmp_path, [verdicts], wrap=lambda s: FailingRelease(s, 2))
    drain(loop)  # part-1's release fails: kept, the loop goes on, and when part-1 comes
    # round again it is recognised by its rid and let go of (not inspected again)
    assert [v["serial"] for v in verdicts.sent] == [f"part-{i}.png" for i in range(4)]
    assert loop.stats.duplicates == 1
    assert spool.counts()["pending"] == 4 and not list(inbox.iterdir())
