"""Model updates: the box asks its site which package to run, fetches a newer one, verifies
it against the pinned site key, keeps it on disk and builds its inspector on this thread;
the image loop switches to it between two images (one attribute swap)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from dure.collab.packages import PackageRefused
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
        wanted = self.shelf.current()
        if self.site is not None:
            try:
                pointer = self.site.model_pointer(self.edge_id)
            except (SiteUnavailable, SiteRefused) as exc:
                self.last_error = str(exc)
                pointer = {}
            site_pid = pointer.get("package_id")
            if site_pid and site_pid not in self.refused and site_pid != self.active():
                if not self.shelf.has(site_pid):
                    try:
                        data = self.site.package(site_pid)
                        self.shelf.install(data, make_current=False)
                    except (SiteUnavailable, SiteRefused) as exc:
                        self.last_error = str(exc)
                        return None
                    except PackageRefused as exc:
                        self._refuse(site_pid, exc.detail)
                        return None
                wanted = site_pid
        if not wanted or wanted == self.active() or wanted in self.refused:
            return None
        try:
            model = self.shelf.load(wanted, threads=self.threads)
        except Exception as exc:  # noqa: BLE001 - any unloadable package: keep the old model
            self._refuse(wanted, f"{type(exc).__name__}: {exc}")
            return None
        if wanted != self.shelf.current():
            self.shelf.install(
                (self.shelf.folder / wanted / "package.dmp").read_bytes(), make_current=True
            )
        self.switch(model)
        log.info("switched to model package %s (version %s)", wanted, model.model_version_id)
        return wanted

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
