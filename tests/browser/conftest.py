"""A served demo world and Debian's Chromium, driven by Playwright, for the dashboard tests.

The server is the real app (API and built dashboard) on a free loopback port, over a
fresh demo world. Screenshots go to ``artifacts/screenshots`` (or ``DURE_ARTIFACTS``).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from dure.ports import free_port
from dure.settings import Settings
from dure.store.session import Store

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "web" / "dist"
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("DURE_ARTIFACTS", ROOT / "artifacts")) / "screenshots"
PASSWORD = "dure-demo-1234"


def _missing() -> str | None:
    if not (DIST / "index.html").is_file():
        return "the dashboard is not built (make web)"
    if not CHROMIUM.exists():
        return "Debian's chromium is not installed (make test-deps installs it as root)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    return None


@pytest.fixture(scope="session")
def browser_ready() -> None:
    """Skip (or, under CI, fail) when the dashboard, Chromium or Playwright is missing."""
    why = _missing()
    if why and os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run in CI: {why}")
    if why:
        pytest.skip(why)


@dataclass
class Served:
    """The served demo world: its address, store and what the demo wrote about itself."""

    url: str
    store: Store
    tokens: dict[str, dict[str, str]]
    truth: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict)

    def get(self, slug: str, path: str, role: str = "admin") -> Any:
        """Call the API as one demo user (for ids the tests tamper with)."""
        token = self.tokens[slug][role]
        response = httpx.get(
            self.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        response.raise_for_status()
        return response.json()


@pytest.fixture(scope="session")
def served(browser_ready: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Build the demo world and serve it (API and dashboard) on loopback."""
    import uvicorn

    from dure.api.app import create_app
    from dure.services.demo.world import build_demo

    home = tmp_path_factory.mktemp("dashboard-home")
    settings = Settings(home=home, web_dir=DIST)
    store = Store.open(settings)
    summary = build_demo(store, home)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, store), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(url + "/api/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        pytest.fail("the dashboard server did not start")
    result = Served(
        url,
        store,
        json.loads(summary.tokens_file.read_text()),
        json.loads(summary.ground_truth_file.read_text()),
        {"demo_build_s": round(summary.seconds, 1)},
    )
    yield result
    server.should_exit = True
    thread.join(10)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "timings.json").write_text(json.dumps(result.timings, indent=1))


@pytest.fixture(scope="module")
def chromium(browser_ready: None) -> Iterator[Any]:
    """Debian's Chromium, headless, under Playwright.

    Module-scoped: Playwright's sync API runs an event loop in the main thread while it is
    open, and later tests that call asyncio.run (OPC UA, MQTT) must not find it there.
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page_for(chromium: Any, served: Served) -> Iterator[Any]:
    """A function opening a fresh browser page (own storage) in a given locale."""
    contexts = []

    def open_page(locale: str = "en-GB") -> Any:
        context = chromium.new_context(
            locale=locale, viewport={"width": 1400, "height": 1000}, base_url=served.url
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(20_000)
        return page

    yield open_page
    for context in contexts:
        context.close()


def shot(page: Any, name: str) -> Path:
    """Save a full-page screenshot as a test artifact; its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def log_in(page: Any, email: str, password: str = PASSWORD) -> None:
    """Log in through the form and wait for the overview."""
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("[data-testid=login-submit]")
    page.wait_for_selector("[data-testid=who]")


def timed_goto(page: Any, served: Served, path: str, ready: str, name: str) -> None:
    """Open ``path`` and wait for ``ready``; keep the seconds it took (never asserted)."""
    started = time.perf_counter()
    page.goto(path)
    page.wait_for_selector(ready)
    served.timings[name] = round(time.perf_counter() - started, 3)
