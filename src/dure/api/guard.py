"""The gate every request passes before the app reads it: body limits counted on the
stream (chunked bodies too), no body read for a caller without a valid token, and the
security headers every answer carries.

A pure ASGI middleware: it wraps ``receive`` so that the bytes the app takes are counted
as they arrive, and answers 413 as soon as a body passes its limit, 401 before reading a
body that comes without a valid token.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.concurrency import run_in_threadpool

from dure.errors import DureError, Unauthenticated
from dure.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

MULTIPART_OVERHEAD = 1 << 20
SMALL_BODY = 64 << 10  # log-in, JSON bodies of settings and decisions
EDGE_RESULTS = "/api/edge/v1/results"
EDGE_POST_BYTES = 8 << 20  # what a box sends in one post (several results)
EDGE_MAP_BYTES = 4 << 20  # room for the raw anomaly maps and the JSON around them
WITHOUT_TOKEN = ("/api/auth/login", "/api/health")
PEER = "/peer/"
PEER_LINK = "/peer/v1/link"  # a partner accepting an invitation has no token yet
HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' blob: data:; style-src 'self' 'unsafe-inline'; "
        b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    (b"cross-origin-opener-policy", b"same-origin"),
]


def body_limit(settings: Settings, path: str) -> int:
    """The most bytes a request to ``path`` may send."""
    if path.endswith(("/images", "/inspect-batch")):
        return max(settings.max_batch_bytes, settings.max_upload_bytes) + MULTIPART_OVERHEAD
    if path == EDGE_RESULTS:  # JSON, base64: up to 8 MB of results, or one image of any size
        return max(EDGE_POST_BYTES, settings.max_upload_bytes * 4 // 3) + EDGE_MAP_BYTES
    if path == "/api/auth/login":
        return SMALL_BODY
    return settings.max_upload_bytes + MULTIPART_OVERHEAD


class RequestGuard:
    """ASGI middleware: see the module's docstring."""

    def __init__(
        self,
        app: App,
        settings: Settings,
        authenticate: Callable[[str], object],
    ) -> None:
        self.app = app
        self.settings = settings
        self.authenticate = authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        send = _with_headers(send, csp=not path.startswith(("/docs", "/redoc")))
        limit = body_limit(self.settings, path)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            await _problem(
                send,
                413,
                "Payload too large",
                f"the request body of {int(length):,} bytes is over the limit of {limit:,} bytes",
            )
            return
        has_body = scope.get("method") in ("POST", "PUT", "PATCH") and (
            length not in ("", "0") or "chunked" in headers.get("transfer-encoding", "")
        )
        if has_body and path.startswith("/api/") and path not in WITHOUT_TOKEN:
            refusal = await run_in_threadpool(
                self._refuse_unknown_caller, headers.get("authorization", "")
            )
            if refusal is not None:
                await _problem(send, refusal.status, refusal.title, refusal.detail, bearer=True)
                return
        peer_post = scope.get("method") == "POST" and path.startswith(PEER)  # (PUT: 405)
        if has_body and peer_post and path != PEER_LINK and not _signed(headers):
            # the body of a request between installs is parsed only once it may be genuine
            await _problem(
                send,
                401,
                "Unauthenticated",
                "a request between installs is signed (X-Dure-Signature) and carries the "
                "partner token (Authorization: Bearer)",
            )
            return
        await self._app_with_limit(scope, receive, send, limit)

    async def _app_with_limit(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Run the app on a ``receive`` that counts the body; past ``limit`` the app is told
        the client left, and whatever it answers is replaced by a 413."""
        state = {"seen": 0, "over": False, "answered": False}

        async def counted() -> Message:
            if state["over"]:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                state["seen"] += len(message.get("body", b""))
                if state["seen"] > limit:
                    state["over"] = True
                    return {"type": "http.disconnect"}
            return message

        async def sending(message: Message) -> None:
            if state["over"]:
                if not state["answered"]:
                    state["answered"] = True
                    await _problem(send, 413, "Payload too large", _over(limit))
                return
            await send(message)

        try:
            await self.app(scope, counted, sending)
        except Exception:
            if not state["over"]:
                raise
        if state["over"] and not state["answered"]:
            await _problem(send, 413, "Payload too large", _over(limit))

    def _refuse_unknown_caller(self, authorization: str) -> DureError | None:
        """The error to answer before reading the body of a request without a valid token."""
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return Unauthenticated("send an API token as 'Authorization: Bearer <token>'")
        try:
            self.authenticate(token.strip())
        except DureError as exc:
            return exc
        return None


def _signed(headers: dict[str, str]) -> bool:
    """Whether a request names a signature and a partner token (checked later, in full)."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return bool(headers.get("x-dure-signature")) and scheme.lower() == "bearer" and bool(token)


def _over(limit: int) -> str:
    return f"the request body is over the limit of {limit:,} bytes"


def _with_headers(send: Send, csp: bool = True) -> Send:
    """``send`` that adds the security headers and drops the server banner (the API docs
    pages load their viewer from elsewhere: no content-security policy there)."""
    added = [(k, v) for k, v in HEADERS if csp or k != b"content-security-policy"]

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            kept = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"server"]
            names = {k.lower() for k, _ in kept}
            kept += [(k, v) for k, v in added if k not in names]
            message["headers"] = kept
        await send(message)

    return sending


async def _problem(send: Send, status: int, title: str, detail: str, bearer: bool = False) -> None:
    body = json.dumps(
        {"type": "about:blank", "title": title, "status": status, "detail": detail}
    ).encode()
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if bearer and status == 401:
        headers.append((b"www-authenticate", b"Bearer"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
