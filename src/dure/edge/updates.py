"""Model updates: the box asks its site which package to run, fetches a newer one, verifies
it against the pinned site key, keeps it on disk and builds its inspector on this thread;
the image loop switches to it between two images (one attribute swap)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from dure.collab.packages import PackageRefused
from dure.collab.signing import message_signed_by
from dure.domain.edge import pointer_message
from dure.edge.models import ActiveModel, ModelShelf
from dure.edge.site import SiteClient, SiteRefused, SiteUnavailable

log = logging.getLogger("dure.edge.updates")


class ModelUpdater:
    """Polls every ``every_s``: the local pointer (``dure edge load``) and the site's."""

    def __init__(
        self,
        shelf: ModelShelf,
        site: SiteClient | None,
        edge_id: str,
        switch: Callable[[ActiveModel], None],
        active: Callable[[], str | None],
        every_s: float = 30.0,
        threads: int = 1,
    ) -> None:
        self.shelf, self.site, self.edge_id = shelf, site, edge_id
        self.switch, self.active = switch, active
        self.every_s, self.threads = every_s, threads
        self.refused: dict[str, str] = {}  # package id -> why (not tried again)
        self.last_error = ""
        self._told: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="edge-updates", daemon=True)

    def start(self) -> None:
        """Start polling in the background."""
        self._thread.start()

    def stop(self) -> None:
        """Stop polling."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=30)

    def check_once(self) -> str | None:
        """One look at both pointers; returns the package switched to, if any."""
        wanted, number = self.shelf.current(), None
        if self.site is not None:
            try:
                pointer = self.site.model_pointer(self.edge_id)
            except (SiteUnavailable, SiteRefused) as exc:
                self.last_error = str(exc)
                pointer = {}
            site_pid = pointer.get("package_id")
            if site_pid and site_pid not in self.refused:
                why = self.pointer_problem(pointer)
                if why:
                    self._tell(f"model pointer to {site_pid!r} refused: {why}")
                    return None
                number = int(pointer["assignment"])
                if site_pid == self.active():
                    if self.shelf.current() == site_pid and number > self.shelf.assignment():
                        self.shelf.point(site_pid, number)  # same package, newer assignment
                    return None
                if not self.shelf.has(site_pid):
                    try:
                        data = self.site.package(site_pid, self.edge_id)
                    except (SiteUnavailable, SiteRefused) as exc:
                        self.last_error = str(exc)
                        return None
                    if ModelShelf.sha256(data) != pointer["sha256"]:
                        self._tell(f"package {site_pid!r} differs from the signed pointer's sha256")
                        return None
                    try:
                        self.shelf.install(data, make_current=False)
                    except PackageRefused as exc:
                        self._refuse(site_pid, exc.detail)
                        return None
                elif self.shelf.sha256(self.shelf.package_bytes(site_pid)) != pointer["sha256"]:
                    self._tell(f"installed package {site_pid!r} differs from the signed pointer")
                    return None
                wanted = site_pid
        if not wanted or wanted == self.active() or wanted in self.refused:
            return None
        try:
            model = self.shelf.load(wanted, threads=self.threads)
        except Exception as exc:  # noqa: BLE001 - any unloadable package: keep the old model
            self._refuse(wanted, f"{type(exc).__name__}: {exc}")
            return None
        if wanted != self.shelf.current() or number is not None:
            self.shelf.point(wanted, number)
        self.switch(model)
        log.info("switched to model package %s (version %s)", wanted, model.model_version_id)
        return wanted

    def pointer_problem(self, pointer: dict[str, Any]) -> str | None:
        """Why a site's model pointer must not be followed (None: follow it): not signed
        with the pinned site key, for another box, or older than the model in use."""
        signature = pointer.get("signature")
        site_key = self.shelf.identity.site_public_pem
        if not message_signed_by(site_key, pointer_message(pointer), signature):
            return "not signed with the site key pinned at enrolment"
        if pointer.get("edge_id") != self.edge_id:
            return f"it is for edge box {pointer.get('edge_id')!r}, not this one"
        number = pointer.get("assignment")
        if not isinstance(number, int) or isinstance(number, bool):
            return "its assignment number is missing"
        if not isinstance(pointer.get("sha256"), str):
            return "its sha256 is missing"
        if number < self.shelf.assignment():
            return (
                f"assignment {number} is older than {self.shelf.assignment()}, the one in use "
                "(a replayed pointer: the model stays)"
            )
        return None

    def _tell(self, why: str) -> None:
        """Log a refusal once (it is kept in ``last_error`` while it lasts)."""
        self.last_error = why
        if why not in self._told:
            self._told.add(why)
            log.warning("%s", why)

    def _refuse(self, package_id: str, why: str) -> None:
        self.refused[package_id] = why
        log.warning("model package %s refused: %s", package_id, why)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.check_once()
            except Exception:  # noqa: BLE001 - the updater must not die
                log.exception("model update check failed")
            self._stop.wait(self.every_s)
