"""The gate before the app: bodies are counted on the stream (chunked too) and refused past
their limit, a body without a valid token is never read, every answer carries the
security headers and no server banner."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from dure.api.guard import RequestGuard, body_limit
from dure.errors import Unauthenticated
from dure.settings import Settings
from tests.factories import World, png_bytes


def _run(app: Any, scope: dict[str, Any], chunks: list[bytes]) -> tuple[int, dict, bytes, int]:
    """Drive an ASGI app: feed ``chunks`` as the body; the status, headers, body, and how
    many body bytes the app took."""
    sent: list[dict[str, Any]] = []
    fed = {"bytes": 0}
    queue = list(chunks)

    async def receive() -> dict[str, Any]:
        if not queue:
            return {"type": "http.request", "body": b"", "more_body": False}
        chunk = queue.pop(0)
        fed["bytes"] += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(queue)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], dict(start["headers"]), body, fed["bytes"]


async def _reading_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An app that reads its whole body and answers how long it was."""
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise RuntimeError("client left")
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": [(b"server", b"x")]})
    await send({"type": "http.response.body", "body": str(size).encode()})


def _scope(path: str, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": path,
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
    }


def _guard(limit: int = 1000) -> RequestGuard:
    settings = Settings(max_upload_bytes=limit, max_batch_bytes=limit)

    def authenticate(token: str) -> object:
        if token != "good":
            raise Unauthenticated("the API token is not known")
        return object()

    guard = RequestGuard(_reading_app, settings, authenticate)
    return guard


def test_a_chunked_body_past_its_limit_is_refused_while_it_streams() -> None:
    guard = _guard(limit=1000)
    limit = 1000 + (1 << 20)
    chunks = [b"x" * 65536] * 100  # 6.5 MB, sent without a length
    status, headers, body, fed = _run(
        guard,
        _scope(
            "/api/inspections", {"authorization": "Bearer good", "transfer-encoding": "chunked"}
        ),
        chunks,
    )
    assert status == 413 and headers[b"content-type"] == b"application/problem+json"
    assert "over the limit" in json.loads(body)["detail"]
    assert fed <= limit + 65536  # reading stopped at the limit, not at the end


def test_a_body_without_a_valid_token_is_never_read() -> None:
    guard = _guard()
    for headers in ({}, {"authorization": "Bearer forged"}, {"authorization": "Basic x"}):
        status, response_headers, body, fed = _run(
            guard,
            _scope("/api/parts/p/images", {**headers, "transfer-encoding": "chunked"}),
            [b"y" * 65536] * 10,
        )
        assert status == 401 and fed == 0, headers
        assert response_headers[b"www-authenticate"] == b"Bearer"


def test_a_declared_length_over_the_limit_is_refused_at_once() -> None:
    status, _, _, fed = _run(
        _guard(), _scope("/api/auth/login", {"content-length": str(10 << 20)}), [b"z"]
    )
    assert status == 413 and fed == 0


def test_answers_carry_the_security_headers_and_no_server_banner() -> None:
    status, headers, body, _ = _run(
        _guard(),
        _scope("/api/inspections", {"authorization": "Bearer good", "content-length": "3"}),
        [b"abc"],
    )
    assert status == 200 and body == b"3"
    assert b"server" not in headers
    assert headers[b"x-content-type-options"] == b"nosniff"
    assert b"frame-ancestors 'none'" in headers[b"content-security-policy"]


def test_the_served_api_refuses_an_unauthenticated_upload(client, world: World) -> None:  # type: ignore[no-untyped-def]
    response = client.post(
        "/api/inspections",
        data={"part_id": world.a.ids["part"]},
        files={"image": ("p.png", png_bytes(), "image/png")},
    )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    health = client.get("/api/health")
    assert "server" not in health.headers and health.headers["x-frame-options"] == "DENY"


def test_an_edge_box_post_takes_one_large_image_but_not_a_batch_upload() -> None:
    """Edge results are JSON parsed in memory: a box sends up to 8 MB of results per post,
    or one result whose image alone is larger; never the hundreds of MB a batch may."""
    settings = Settings(max_upload_bytes=32 << 20, max_batch_bytes=512 << 20)
    limit = body_limit(settings, "/api/edge/v1/results")
    assert limit >= (32 << 20) * 4 // 3 + (1 << 20)  # one upload-sized image in base64
    assert limit < body_limit(settings, "/api/parts/p/inspect-batch") // 4
    small = Settings(max_upload_bytes=1 << 20, max_batch_bytes=512 << 20)
    assert body_limit(small, "/api/edge/v1/results") >= 8 << 20  # a forwarder's whole post
