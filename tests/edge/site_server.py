"""The real site app (create_app over the test's store) served on loopback by uvicorn, so
the edge box talks to it over HTTP exactly as on a line."""

from __future__ import annotations

import threading
import time

import httpx

from dure.ports import free_port
from dure.settings import Settings
from dure.store.session import Store


class ServedSite:
    """start() / stop(); ``url`` once started. Stopping and starting again is an outage."""

    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings, self.store = settings, store
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        import uvicorn

        from dure.api.app import create_app

        config = uvicorn.Config(
            create_app(self.settings, self.store), host="127.0.0.1", port=self.port,
            log_level="warning",
        )  # fmt: skip
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/api/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("the site did not start")

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            assert self._thread is not None
            self._thread.join(20)
            self._server = None
