"""The forwarder: results from the spool to the site, oldest first, signed, until acknowledged.

Each POST carries at most 8 results (and at most ``max_body_bytes``), signed with the device
key. The site answers per result: ``stored`` or ``duplicate`` -> ``sent``; ``refused`` ->
kept as ``refused`` with the site's reason, never sent again. A connection error or a 5xx
is an outage: the same batch is retried after 1 s, doubling to 30 s, and the outage is
logged when it starts, every minute while it lasts and when it ends. A 400/413/415/422 (the
post itself is wrong) for a whole batch is retried one result at a time, and a single result
the site answers so for is refused with that answer (so one bad result cannot hold up the
rest). Every other 4xx is an outage: 401/403 (a wrong clock or a revoked token is for a
person to fix), 404/405 (a proxy or a site without the edge routes), 408, 409, 429...:
nothing says the results are bad, so nothing is given up meanwhile.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from pathlib import Path
from typing import Any

from dure.collab.signing import sign_request
from dure.edge.fsio import prune_rejected
from dure.edge.identity import EdgeIdentity
from dure.edge.site import (
    PARITY_PATH,
    RESULTS_PATH,
    SiteClient,
    SiteRefused,
    SiteUnavailable,
)
from dure.edge.spool import REFUSED, SENT, ResultSpool, Spooled

log = logging.getLogger("dure.edge.forwarder")

BATCH = 8
MAX_BODY_BYTES = 8_000_000
FIRST_PAUSE_S, MAX_PAUSE_S = 1.0, 30.0
PRUNE_EVERY_S = 3600.0
POST_REFUSED = (400, 413, 415, 422)  # answers about the post's content: the rest is an outage


class Forwarder:
    """Sends spooled results to the site on its own thread."""

    def __init__(
        self,
        spool: ResultSpool,
        site: SiteClient,
        identity: EdgeIdentity,
        private_pem: bytes,
        keep_days: float = 30.0,
        batch: int = BATCH,
        rejected: Path | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        self.spool, self.site, self.identity = spool, site, identity
        self.private_pem = private_pem
        self.keep_days = keep_days
        self.rejected = rejected  # home/rejected: images set aside, pruned after keep_days
        self.batch, self.max_body_bytes = batch, max_body_bytes
        self.posts = 0
        self.outages = 0
        self.down_since: float | None = None
        self.last_error = ""
        self._down_logged = 0.0
        self._single = False  # after a batch the site refused whole: one at a time
        self._parity: dict[str, Any] | None = None  # a parity report not yet taken by the site
        self._parity_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="edge-forwarder", daemon=True)

    def start(self) -> None:
        """Start forwarding in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the POST in flight."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def wake(self) -> None:
        """A new result is spooled: look now rather than at the next idle tick."""
        self._wake.set()

    def report_parity(self, report: dict[str, Any] | None) -> None:
        """Send ``report`` (a package's golden set scored here) to the site, once, before
        the next results; a newer report replaces one not yet sent."""
        if report is None:
            return
        with self._parity_lock:
            self._parity = dict(report)
        self._wake.set()

    def send_parity(self) -> bool:
        """Post the waiting parity report, if any; True when the site took it or refused
        it for good (a report the site refuses as malformed is dropped, logged).
        SiteUnavailable when the site is away (the report waits)."""
        with self._parity_lock:
            report = self._parity
        if report is None:
            return False
        body = json.dumps({"edge_id": self.identity.edge_id, **report}).encode()
        signature = sign_request(
            self.private_pem, "POST", PARITY_PATH,
            sender=self.identity.edge_id, receiver=self.identity.org_id, body=body,
        )  # fmt: skip
        try:
            self.site.post_parity(body, signature)
        except SiteRefused as exc:
            if exc.status not in POST_REFUSED:
                raise SiteUnavailable(str(exc)) from exc
            log.error("site refused the parity report of %s: %s", report.get("package_id"), exc)
        with self._parity_lock:
            if self._parity is report:
                self._parity = None
        return True

    def forward_once(self) -> int:
        """Send one batch; returns how many results were settled (0: nothing pending).
        SiteUnavailable when the site is away (nothing settled)."""
        items = self.spool.oldest_pending(1 if self._single else self.batch)
        if not items:
            return 0
        body, items, unreadable = self._body(items)
        if not items:
            return unreadable
        signature = sign_request(
            self.private_pem, "POST", RESULTS_PATH,
            sender=self.identity.edge_id, receiver=self.identity.org_id, body=body,
        )  # fmt: skip
        self.spool.note_attempt([item.rid for item in items])
        try:
            answer = self.site.post_results(body, signature)
        except SiteRefused as exc:
            if exc.status not in POST_REFUSED:
                raise SiteUnavailable(str(exc)) from exc
            if len(items) > 1:
                self._single = True  # find the one the site will not take
                log.warning("site refused a batch of %d (%s); one by one", len(items), exc)
                return 0
            self.spool.settle(items[0].rid, REFUSED, f"{exc.status}: {exc.detail}")
            log.warning("site refused result %s: %s", items[0].rid, exc.detail)
            return 1
        self.posts += 1
        self._single = False
        return self._settle(items, answer) + unreadable

    def _body(self, items: list[Spooled]) -> tuple[bytes, list[Spooled], int]:
        """The post of the first results that fit, those results, and how many were set
        aside as ``refused`` because their files cannot be read (so they hold up nothing)."""
        results: list[dict[str, Any]] = []
        taken: list[Spooled] = []
        unreadable = size = 0
        for item in items:
            try:
                wire = self._wire(item)
            except (FileNotFoundError, IsADirectoryError, ValueError, EOFError) as exc:
                # gone or damaged for good (a passing read error is retried as an outage)
                reason = f"its files cannot be read on the box ({type(exc).__name__}: {exc})"
                self.spool.settle(item.rid, REFUSED, reason[:500])
                log.error("result %s set aside: %s", item.rid, reason)
                unreadable += 1
                continue
            encoded = len(json.dumps(wire))
            if results and size + encoded > self.max_body_bytes:
                break
            results.append(wire)
            taken.append(item)
            size += encoded
        body = json.dumps(
            {"edge_id": self.identity.edge_id, "results": results}, separators=(",", ":")
        ).encode()
        return body, taken, unreadable

    def _wire(self, item: Spooled) -> dict[str, Any]:
        raw_map = self.spool.read_map(item)
        return {
            **item.body,
            "image_b64": base64.b64encode(item.image_file.read_bytes()).decode(),
            "raw_map": {
                "shape": list(raw_map.shape),
                "b64": base64.b64encode(raw_map.astype("<f4").tobytes()).decode(),
            },
        }

    def _settle(self, items: list[Spooled], answer: dict[str, Any]) -> int:
        by_rid = {r.get("rid"): r for r in answer.get("results", []) if isinstance(r, dict)}
        settled = 0
        for item in items:
            result = by_rid.get(item.rid)
            status = result.get("status") if result else None
            if status in ("stored", "duplicate"):
                self.spool.settle(item.rid, SENT)
                settled += 1
            elif status == "refused":
                reason = str(result.get("reason") or "refused")  # type: ignore[union-attr]
                self.spool.settle(item.rid, REFUSED, reason)
                log.warning("site refused result %s: %s", item.rid, reason)
                settled += 1
            else:  # not answered for: it stays pending and goes again
                log.warning("site gave no answer for result %s; it will be sent again", item.rid)
        return settled

    def _run(self) -> None:
        pause = FIRST_PAUSE_S
        next_prune = 0.0
        while not self._stop.is_set():
            if time.monotonic() >= next_prune:
                next_prune = time.monotonic() + PRUNE_EVERY_S
                try:
                    pruned = self.spool.prune(self.keep_days)
                    if self.rejected is not None:
                        pruned += prune_rejected(self.rejected, self.keep_days)
                    if pruned:
                        log.info(
                            "pruned %d results and set-aside images settled over %s days ago",
                            pruned,
                            self.keep_days,
                        )
                except Exception:  # noqa: BLE001 - pruning is housekeeping
                    log.exception("pruning the spool failed")
            try:
                self.send_parity()
                settled = self.forward_once()
            except SiteUnavailable as exc:
                self._note_outage(exc)
                self._stop.wait(pause)
                pause = min(pause * 2, MAX_PAUSE_S)
                continue
            except Exception as exc:  # noqa: BLE001 - never let the thread die
                log.exception("forwarding failed")
                self._note_outage(exc)
                self._stop.wait(pause)
                pause = min(pause * 2, MAX_PAUSE_S)
                continue
            pause = FIRST_PAUSE_S
            self._note_recovered()
            if settled == 0 and not self._single:
                self._wake.wait(0.2)
                self._wake.clear()

    def _note_outage(self, exc: Exception) -> None:
        self.last_error = str(exc)[:500]
        now = time.monotonic()
        if self.down_since is None:
            self.outages += 1
            self.down_since = self._down_logged = now
            log.warning("site unavailable, keeping results (retrying with backoff): %s", exc)
        elif now - self._down_logged >= 60:
            self._down_logged = now
            log.warning(
                "site still unavailable after %.0f s, %d results waiting: %s",
                now - self.down_since, self.spool.counts()["pending"], exc,
            )  # fmt: skip

    def _note_recovered(self) -> None:
        if self.down_since is not None:
            log.warning(
                "site reachable again after %.0f s; forwarding %d waiting results",
                time.monotonic() - self.down_since, self.spool.counts()["pending"],
            )  # fmt: skip
            self.down_since = None
            self.last_error = ""
