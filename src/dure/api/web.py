"""Serving the built dashboard at ``/``: its files, and index.html for the app's own paths."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, Response

from dure.api import openapi, problems

NOT_BUILT = """<!doctype html><meta charset="utf-8"><title>Dure</title>
<body style="font-family:sans-serif;max-width:40em;margin:4em auto">
<h1>Dure is running; its dashboard is not built</h1>
<p>Build it with <code>make up</code> (or <code>make web</code>), which installs it from the
npm registry into <code>web/dist</code>. The API works meanwhile: see <a href="/docs">/docs</a>.
</p><p>대시보드가 아직 빌드되지 않았습니다. <code>make up</code>을 실행하세요.</p></body>"""


def install(app: FastAPI, folder: Path) -> None:
    """Serve ``folder`` (a Vite build) for every path that is not the API's.

    A path naming a file of the build gets that file (hashed assets are cached for a year);
    any other path gets index.html, so the app's own links (``/line/…``) load on refresh.
    Unknown ``/api/…`` and ``/peer/…`` paths stay 404 problems.
    """
    root = folder.resolve()

    @app.get("/{path:path}", include_in_schema=False)
    def dashboard(path: str) -> Response:
        if path.startswith(("api/", "peer/")) or path in ("api", "peer"):
            if openapi.methods_at(app, f"/{path}"):  # an operation's path, another method
                raise HTTPException(405, "Method Not Allowed")  # the handler adds Allow
            return problems.problem(404, "Not found", f"no route /{path[:200]}")
        if "\x00" in path or len(path) > 1024:
            return problems.problem(404, "Not found", "no such page")
        index = root / "index.html"
        if not index.is_file():
            return HTMLResponse(NOT_BUILT, status_code=503)
        wanted = (root / path).resolve()
        if path and wanted.is_file() and wanted.is_relative_to(root):
            cache = "public, max-age=31536000, immutable" if path.startswith("assets/") else None
            return FileResponse(wanted, headers={"Cache-Control": cache} if cache else None)
        return FileResponse(index, headers={"Cache-Control": "no-cache"})
