"""Where images come from: a camera folder, or an MQTT topic carrying image files.

Either way an image is let go of (the file deleted, the MQTT message acknowledged) only
after its result is committed to the spool, so a crash before that brings the same image
back, and its deterministic id (:func:`result_id`) brings back the same result id.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from dure.edge.fsio import fsync_dir, write_atomic

log = logging.getLogger("dure.edge.sources")

SESSION_EXPIRY_S = 7 * 24 * 3600  # the broker keeps unacknowledged images a week
UNFINISHED = (".tmp", ".part", ".partial", ".filepart", ".crdownload")


def result_id(edge_id: str, source_name: str, content: bytes) -> str:
    """The result id of one image: sha256(edge id | source name | content), 32 hex digits.
    The same image from the same place gives the same id, also after a crash and restart."""
    digest = hashlib.sha256(f"{edge_id}|{source_name}|".encode())
    digest.update(content)
    return digest.hexdigest()[:32]


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds")


@dataclass
class Arrival:
    """One image taken from a source, not yet let go of."""

    serial: str  # the part's name: the file name, or the publisher's image id
    source_name: str  # what the result id is derived from (with the content)
    data: bytes
    filename: str
    taken_at: str  # ISO-8601 with zone
    release: Callable[[], None] = field(repr=False)  # after the spool commit
    reject: Callable[[str], None] = field(repr=False)  # an image that cannot be inspected


class FolderSource:
    """Image files dropped into ``folder`` by a camera that writes a temporary name and
    renames it when complete: names ending .tmp/.part (or starting with a dot) are skipped.
    A file the box cannot read (permissions, I/O error) is set aside, not retried forever."""

    def __init__(self, folder: Path, rejected: Path, poll_s: float = 0.05) -> None:
        self.folder = Path(folder)
        self.rejected = Path(rejected)
        self.poll_s = poll_s
        self.folder.mkdir(parents=True, exist_ok=True)
        self._queue: list[Path] = []
        self._skipped: set[str] = set()  # unreadable and immovable: not tried again

    def start(self) -> None:
        """Nothing to start: the folder is polled."""

    def stop(self) -> None:
        """Nothing to stop."""

    def ready(self) -> list[Path]:
        """Completed image files, oldest first (modification time, then name)."""
        found = []
        with os.scandir(self.folder) as entries:
            for entry in entries:
                name = entry.name
                if name.startswith(".") or name.lower().endswith(UNFINISHED):
                    continue
                if name in self._skipped:
                    continue
                try:
                    if entry.is_file(follow_symlinks=False):
                        found.append((entry.stat().st_mtime_ns, name))
                except FileNotFoundError:
                    continue
        return [self.folder / name for _, name in sorted(found)]

    def next(self, timeout_s: float) -> Arrival | None:
        """The next completed file, waiting up to ``timeout_s``; None when there is none."""
        deadline = time.monotonic() + timeout_s
        while True:
            if not self._queue:
                self._queue = self.ready()
            while self._queue:
                path = self._queue.pop(0)
                try:
                    data = path.read_bytes()
                    mtime = path.stat().st_mtime
                except FileNotFoundError:
                    continue  # taken away meanwhile
                except OSError as exc:  # unreadable (permissions, I/O): set aside, go on
                    self._set_aside(path, f"{path.name}: cannot be read ({exc.strerror})")
                    continue
                return Arrival(
                    serial=path.name,
                    source_name=path.name,
                    data=data,
                    filename=path.name,
                    taken_at=_iso(mtime),
                    release=lambda p=path: self._release(p),
                    reject=lambda reason, p=path: self._reject(p, reason),
                )
            if time.monotonic() >= deadline:
                return None
            time.sleep(min(self.poll_s, max(0.0, deadline - time.monotonic())))

    def pending(self) -> int:
        """Completed files waiting in the folder."""
        return len(self.ready())

    def _release(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        fsync_dir(self.folder)

    def _set_aside(self, path: Path, reason: str) -> None:
        """A file the box cannot read: moved to ``rejected`` with its reason, or, when it
        cannot even be moved, skipped until the next start (logged)."""
        try:
            self._reject(path, reason)
        except OSError as exc:
            self._skipped.add(path.name)
            log.error("image %s skipped: %s; it cannot be set aside either (%s)",
                      path.name, reason, exc.strerror)  # fmt: skip

    def _reject(self, path: Path, reason: str) -> None:
        self.rejected.mkdir(parents=True, exist_ok=True)
        write_atomic(self.rejected / f"{path.name}.why.txt", reason.encode())
        try:
            shutil.move(path, self.rejected / path.name)
        except FileNotFoundError:
            return
        fsync_dir(self.folder)
        log.warning("image %s not inspected: %s (kept in %s)", path.name, reason, self.rejected)


class MqttImageSource:
    """Image files published to ``topic`` at QoS 1; a persistent session (clean start off)
    with manual acknowledgements, so the broker keeps and redelivers every image whose result
    is not yet committed. The publisher may set a user property ``image_id`` (the serial);
    without it the serial is the topic's last level and the result id comes from the content."""

    def __init__(self, host: str, port: int, topic: str, client_id: str) -> None:
        self.host, self.port, self.topic = host, port, topic
        self._arrivals: queue.Queue[tuple[int, mqtt.MQTTMessage]] = queue.Queue()
        self._generation = 0
        self.connected = False
        client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        client.reconnect_delay_set(min_delay=1, max_delay=5)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self.client = client

    def start(self) -> None:
        """Connect in the background, retrying while the broker is down."""
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        props.ReceiveMaximum = 64
        self.client.connect_async(
            self.host, self.port, keepalive=30, clean_start=False, properties=props
        )
        self.client.loop_start()

    def stop(self) -> None:
        """Disconnect; what was not acknowledged stays with the broker."""
        self.client.disconnect()
        self.client.loop_stop()

    def next(self, timeout_s: float) -> Arrival | None:
        """The next image message, waiting up to ``timeout_s``."""
        try:
            generation, msg = self._arrivals.get(timeout=timeout_s)
        except queue.Empty:
            return None
        image_id = None
        taken_at = _iso(time.time())
        props = getattr(msg, "properties", None)
        for key, value in getattr(props, "UserProperty", None) or []:
            if key == "image_id":
                image_id = value
            elif key == "taken_at":
                taken_at = value
        serial = image_id or msg.topic.rsplit("/", 1)[-1] or msg.topic
        source_name = f"{msg.topic}|{image_id}" if image_id else msg.topic
        ack = lambda g=generation, m=msg: self._ack(g, m)  # noqa: E731
        return Arrival(
            serial=serial,
            source_name=source_name,
            data=msg.payload,
            filename=serial,
            taken_at=taken_at,
            release=ack,
            reject=lambda reason, a=ack, s=serial: self._reject(a, s, reason),
        )

    def pending(self) -> int:
        """Messages received and not yet taken."""
        return self._arrivals.qsize()

    def _reject(self, ack: Callable[[], None], serial: str, reason: str) -> None:
        log.warning("image %s not inspected: %s (dropped)", serial, reason)
        ack()

    def _ack(self, generation: int, msg: mqtt.MQTTMessage) -> None:
        # one from an earlier connection is redelivered by the broker anyway (same rid)
        if msg.qos and generation == self._generation:
            self.client.ack(msg.mid, msg.qos)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        if reason_code.is_failure:
            log.warning("image broker refused the connection: %s", reason_code)
            return
        self._generation += 1
        self.connected = True
        client.subscribe([(self.topic, 1)])
        log.info("images: subscribed to %s on %s:%s", self.topic, self.host, self.port)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        self.connected = False
        if reason_code != 0:
            log.warning("image broker disconnected (%s); reconnecting", reason_code)

    def _on_message(self, client, userdata, msg) -> None:  # type: ignore[no-untyped-def]
        self._arrivals.put((self._generation, msg))


Source = FolderSource | MqttImageSource
