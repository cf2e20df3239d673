"""The image loop: take an image, inspect it, send the verdict to the line, keep the result.

Per image, in this order (each step's crash outcome in brackets):
1. take the image from the source and derive its result id ``rid`` (nothing happened yet);
2. if ``rid`` is already in the spool, only let go of the input [a crash between the
   spool commit and the release of the input: the image comes back and is recognised];
3. inspect with the active model (an image that cannot be inspected: verdict ``error`` to
   the line, the image set aside, done), send the verdict to MQTT (waiting for the broker's
   acknowledgement while it is connected) and the PLC [a crash before the commit: the image
   comes back and is inspected again with the same rid, so the line may see the verdict
   twice (at least once) while the site sees it once];
4. commit the result (image + map files, then the row) [all or nothing; a full spool or a
   full or failing disk holds the image here, retried every second, verdict not sent again];
5. let go of the input (delete the camera file / acknowledge the MQTT message).
The model is read once per image, so a switch lands between two images.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import PurePosixPath
from typing import Any, Protocol

from dure.edge.images import decode_image, wire_filename
from dure.edge.models import ActiveModel
from dure.edge.sources import Arrival, result_id
from dure.edge.spool import ResultSpool, SpoolFull
from dure.edge.stats import EdgeStats
from dure.errors import InvalidInput

log = logging.getLogger("dure.edge.loop")

MAX_SERIAL = 100  # the site's inspection_records.serial


class ImageSource(Protocol):
    """What the loop needs of a source."""

    def next(self, timeout_s: float) -> Arrival | None: ...


class VerdictOutput(Protocol):
    """What the loop needs of an output."""

    def send(self, verdict: dict[str, Any]) -> None: ...


class EdgeLoop:
    """Runs images through the active model until stopped."""

    def __init__(
        self,
        edge_id: str,
        source: ImageSource,
        spool: ResultSpool,
        outputs: Sequence[VerdictOutput] = (),
        stats: EdgeStats | None = None,
        on_result: Callable[[], None] | None = None,
    ) -> None:
        self.edge_id = edge_id
        self.source, self.spool, self.outputs = source, spool, list(outputs)
        self.stats = stats or EdgeStats()
        self.on_result = on_result
        self.model: ActiveModel | None = None
        self._stop = threading.Event()
        self._waiting_logged = False
        self._source_down = False

    def switch(self, model: ActiveModel) -> None:
        """Use ``model`` from the next image on (one attribute swap)."""
        self.model = model

    def active_package(self) -> str | None:
        """The package id in use."""
        model = self.model
        return model.package_id if model else None

    def stop(self) -> None:
        """Stop after the image in hand."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        """True once stop() was called."""
        return self._stop.is_set()

    def run(self) -> None:
        """Process images until stop()."""
        while not self._stop.is_set():
            self.step(timeout_s=0.2)

    def step(self, timeout_s: float = 0.2) -> bool:
        """Process at most one image; True when one was taken."""
        model = self.model
        if model is None:
            if not self._waiting_logged:
                log.warning("no model yet: waiting for one from the site (or `dure edge load`)")
                self._waiting_logged = True
            self._stop.wait(min(timeout_s, 0.2))
            return False
        if self.spool.pending_bytes >= self.spool.max_bytes:
            log.warning(
                "spool full (%d bytes wait for the site): not taking images",
                self.spool.pending_bytes,
            )
            self._stop.wait(1.0)
            return False
        try:
            arrival = self.source.next(timeout_s)
        except OSError as exc:  # the camera folder away (a share unmounted...): wait for it
            if not self._source_down:
                log.error("cannot take images (%s); waiting for the source", exc)
                self._source_down = True
            self._stop.wait(1.0)
            return False
        if self._source_down:
            log.warning("taking images again")
            self._source_down = False
        if arrival is None:
            return False
        self.handle(arrival, model)
        return True

    def handle(self, arrival: Arrival, model: ActiveModel) -> str | None:
        """One image through steps 1-5; returns its rid (None when it was rejected)."""
        t0 = time.perf_counter()
        serial = arrival.serial[:MAX_SERIAL]
        rid = result_id(self.edge_id, arrival.source_name, arrival.data)
        if self.spool.has(rid):
            self.stats.duplicates += 1
            self._let_go(arrival)
            return rid
        try:
            pixels = decode_image(arrival.data, arrival.serial)
            finding = model.inspector.inspect([pixels], [arrival.serial])[0]
        except InvalidInput as exc:
            self._cannot_judge(arrival, rid, model, t0, exc.detail)
            return None
        except Exception as exc:  # noqa: BLE001 - one bad image must not stop the line
            log.exception("inspecting %s failed", arrival.serial)
            reason = f"{arrival.serial}: inspection failed ({type(exc).__name__}: {exc})"
            self._cannot_judge(arrival, rid, model, t0, reason)
            return None
        latency_ms = (time.perf_counter() - t0) * 1000
        verdict = {
            "rid": rid,
            "serial": serial,
            "verdict": "ng" if finding.is_defect else "ok",
            "score": float(finding.score),
            "threshold": float(finding.threshold),
            "defect_type": finding.defect_type,
            "latency_ms": round(latency_ms, 3),
            "package_id": model.package_id,
        }
        self._tell_line(verdict)
        filename = wire_filename(arrival.filename, rid, arrival.data)
        body = {
            "rid": rid,
            "package_id": model.package_id,
            "model_version_id": model.model_version_id,
            "serial": serial,
            "taken_at": arrival.taken_at,
            "image_filename": filename,
            "score": float(finding.score),
            "threshold": float(finding.threshold),
            "is_defect": bool(finding.is_defect),
            "defect_type": finding.defect_type,
            "type_confidence": (
                None if finding.type_confidence is None else float(finding.type_confidence)
            ),
            "latency_ms": round(latency_ms, 3),
        }
        ext = PurePosixPath(filename).suffix or ".img"
        while True:  # hold the image (not released) until its result is kept
            try:
                self.spool.add(rid, body, arrival.data, ext, finding.raw_map)
                break
            except SpoolFull as exc:
                log.warning("%s; holding image %s", exc, arrival.serial)
            except (OSError, sqlite3.Error) as exc:  # a full or failing disk: not a crash loop
                log.error("keeping the result of %s failed (%s); holding it", arrival.serial, exc)
            if self._stop.wait(1.0):
                return rid  # not committed, not released: it comes back next start
        self._let_go(arrival)
        self.stats.inspected(latency_ms, bool(finding.is_defect))
        if self.on_result is not None:
            self.on_result()
        return rid

    def _let_go(self, arrival: Arrival) -> None:
        """Release a committed image; when that fails (a read-only folder, a share gone)
        it stays, and is recognised by its rid when it comes round again."""
        try:
            arrival.release()
        except OSError as exc:
            log.error("letting go of %s failed (%s); it is kept once", arrival.serial, exc)
            self._stop.wait(1.0)  # not a busy loop over a folder that stays read-only

    def _tell_line(self, verdict: dict[str, Any]) -> None:
        for output in self.outputs:
            try:
                output.send(verdict)
            except Exception:  # noqa: BLE001 - an output must never stop the line
                log.exception("sending the verdict of %s failed", verdict["serial"])

    def _cannot_judge(
        self, arrival: Arrival, rid: str, model: ActiveModel, t0: float, reason: str
    ) -> None:
        """An image that cannot be inspected: the line is told ``error`` (the PLC gate
        rejects the part rather than keep the last part's verdict), the image is set aside."""
        self.stats.rejected += 1
        self._tell_line(
            {
                "rid": rid,
                "serial": arrival.serial[:MAX_SERIAL],
                "verdict": "error",
                "score": None,
                "threshold": None,
                "defect_type": None,
                "latency_ms": round((time.perf_counter() - t0) * 1000, 3),
                "package_id": model.package_id,
                "reason": reason,
            }
        )
        arrival.reject(reason)
