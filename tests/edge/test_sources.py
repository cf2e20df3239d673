"""Image sources: completed camera files only, MQTT images acknowledged only when released."""

from __future__ import annotations

import os
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from dure.bench.mosquitto import Mosquitto
from dure.edge.sources import FolderSource, MqttImageSource, result_id


def drop(folder: Path, name: str, data: bytes, mtime: float | None = None) -> None:
    """As a camera does: write a temporary name, then rename."""
    tmp = folder / f"{name}.part"
    tmp.write_bytes(data)
    if mtime is not None:
        os.utime(tmp, (mtime, mtime))
    os.replace(tmp, folder / name)


def test_result_ids_are_stable_and_tell_apart_place_and_content() -> None:
    a = result_id("e1", "a.png", b"pixels")
    assert a == result_id("e1", "a.png", b"pixels") and len(a) == 32
    assert int(a, 16) >= 0 and a == a.lower()
    assert len({a, result_id("e2", "a.png", b"pixels"), result_id("e1", "b.png", b"pixels"),
                result_id("e1", "a.png", b"pixelz")}) == 4  # fmt: skip


def test_the_folder_gives_completed_files_oldest_first(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    source = FolderSource(inbox, tmp_path / "rejected", poll_s=0.01)
    now = time.time()
    drop(inbox, "b.png", b"B", now - 10)
    drop(inbox, "a.png", b"A", now - 5)
    (inbox / "c.png.tmp").write_bytes(b"half")  # still being written
    (inbox / "d.png.part").write_bytes(b"half")
    (inbox / ".e.png").write_bytes(b"hidden")
    first = source.next(0.1)
    assert first is not None and (first.serial, first.data) == ("b.png", b"B")
    assert first.taken_at.endswith("+00:00")
    first.release()
    assert not (inbox / "b.png").exists()
    second = source.next(0.1)
    assert second is not None and second.serial == "a.png"
    second.reject("a.png: the image cannot be decoded")
    assert (tmp_path / "rejected" / "a.png").read_bytes() == b"A"
    assert "cannot be decoded" in (tmp_path / "rejected" / "a.png.why.txt").read_text()
    assert source.next(0.05) is None
    assert sorted(p.name for p in inbox.iterdir()) == [".e.png", "c.png.tmp", "d.png.part"]


def test_an_unreleased_file_comes_back_after_a_restart(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    drop(inbox.mkdir() or inbox, "a.png", b"A")
    taken = FolderSource(inbox, tmp_path / "r").next(0.1)
    assert taken is not None  # ... and the process dies here, before release
    again = FolderSource(inbox, tmp_path / "r").next(0.1)
    assert again is not None and again.data == b"A" and again.serial == "a.png"


def publish_image(client: mqtt.Client, topic: str, data: bytes, image_id: str) -> None:
    props = Properties(PacketTypes.PUBLISH)
    props.UserProperty = [("image_id", image_id)]
    client.publish(topic, data, qos=1, properties=props).wait_for_publish(10)


def test_mqtt_images_are_redelivered_until_released(mosquitto: Mosquitto) -> None:
    source = MqttImageSource("127.0.0.1", mosquitto.port, "line1/camera/+", "edge-test")
    source.start()
    deadline = time.monotonic() + 10
    while not source.connected and time.monotonic() < deadline:
        time.sleep(0.05)
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    try:
        time.sleep(0.3)  # the subscription is in place
        publish_image(client, "line1/camera/cam1", b"IMG-1", "S-001")
        publish_image(client, "line1/camera/cam1", b"IMG-2", "S-002")
        first = source.next(5)
        second = source.next(5)
        assert first is not None and second is not None
        assert (first.serial, first.data) == ("S-001", b"IMG-1")
        assert first.source_name == "line1/camera/cam1|S-001"
        first.release()  # S-002 is never released: the process "dies"
        time.sleep(0.3)
        source.stop()
        source = MqttImageSource("127.0.0.1", mosquitto.port, "line1/camera/+", "edge-test")
        source.start()
        back = source.next(10)
        assert back is not None and back.serial == "S-002" and back.data == b"IMG-2"
        back.release()
        assert source.next(1.0) is None  # S-001 was acknowledged: not redelivered
    finally:
        source.stop()
        client.loop_stop()
        client.disconnect()


def test_a_camera_file_the_box_may_not_read_is_set_aside_and_the_rest_go_on() -> None:
    # a camera writing its files 0600 as another user: the box (here: this test as uid
    # 65534 for the read) must not stop on it at every start, nor hold up the files after it
    import shutil
    import tempfile

    if os.geteuid() != 0:
        pytest.skip("needs root to read as another user")
    room = Path(tempfile.mkdtemp(prefix="dure-edge-perm-"))
    try:
        room.chmod(0o777)
        inbox, rejected = room / "inbox", room / "rejected"
        inbox.mkdir(mode=0o777)
        inbox.chmod(0o777)
        drop(inbox, "a.png", b"A", time.time() - 10)
        (inbox / "a.png").chmod(0o600)
        drop(inbox, "b.png", b"B", time.time() - 5)
        (inbox / "b.png").chmod(0o644)
        source = FolderSource(inbox, rejected, poll_s=0.01)
        os.seteuid(65534)
        try:
            taken = source.next(0.1)
        finally:
            os.seteuid(0)
        assert taken is not None and taken.serial == "b.png"
        assert "cannot be read" in (rejected / "a.png.why.txt").read_text()
        assert (rejected / "a.png").exists() and not (inbox / "a.png").exists()
    finally:
        shutil.rmtree(room)
