"""A small real HTTP server speaking the site's `/api/edge/v1/results` contract (interfaces
section B), for forwarder tests that must not wait for the full site: it checks the bearer
token and the device signature, stores one record per rid, answers ``duplicate`` for a rid
it has, ``refused`` for a serial starting with "bad", and can be switched to 503 or off."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from dure.collab.signing import PeerRefused, SignedRequest, sign_message
from dure.domain.edge import pointer_message
from dure.ports import free_port


class ContractSite:
    """Start with start(), stop with stop(); ``records`` maps rid -> the posted result."""

    def __init__(self, token: str, device_public_pem: str, org_id: str = "org-1") -> None:
        self.token, self.device_public_pem, self.org_id = token, device_public_pem, org_id
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.records: dict[str, dict[str, Any]] = {}
        self.batches: list[list[str]] = []
        self.unavailable = False
        self.refuse_posts: tuple[int, str] | None = None  # (status, detail) for every post
        self.pointer: dict[str, Any] = {"package_id": None}
        self.packages: dict[str, bytes] = {}
        self.downloads: list[str] = []
        self.rejected_signatures = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def point(
        self,
        private_pem: bytes,
        edge_id: str,
        package_id: str,
        assignment: int,
        /,
        **changes: Any,
    ) -> dict[str, Any]:
        """Answer model asks with a pointer to ``package_id`` signed with ``private_pem`` as
        the real site signs it (``changes`` applied after signing: a tampered pointer)."""
        data = self.packages.get(package_id, b"")
        fields = {"edge_id": edge_id, "package_id": package_id,
                  "sha256": hashlib.sha256(data).hexdigest(), "model_version_id": "mv1",
                  "size": len(data), "assignment": assignment,
                  "issued_at": "2026-12-01T09:00:00+00:00"}  # fmt: skip
        signature = sign_message(private_pem, pointer_message(fields))
        self.pointer = {**fields, "signature": signature, **changes}
        return self.pointer

    def start(self) -> None:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                status, data, kind = site.serve(self.path, dict(self.headers))
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, answer = site.handle(self.path, dict(self.headers), body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def serve(self, path: str, headers: dict[str, str]) -> tuple[int, bytes, str]:
        if self.unavailable:
            return 503, b"{}", "application/json"
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, b'{"detail": "bad token"}', "application/json"
        if path.startswith("/api/edge/v1/model?"):
            return 200, json.dumps(self.pointer).encode(), "application/json"
        prefix = "/api/edge/v1/packages/"
        path = path.split("?", 1)[0]
        if path.startswith(prefix) and path[len(prefix) :] in self.packages:
            self.downloads.append(path[len(prefix) :])
            return 200, self.packages[path[len(prefix) :]], "application/octet-stream"
        return 404, b'{"detail": "not found"}', "application/json"

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        if self.unavailable:
            return 503, {"detail": "the store cannot be reached"}
        if path != "/api/edge/v1/results":
            return 404, {"detail": "not found"}
        if self.refuse_posts is not None:
            return self.refuse_posts[0], {"detail": self.refuse_posts[1]}
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"detail": "bad token"}
        try:
            signed = SignedRequest.from_headers("POST", path, headers, body)
            signed.check_time()
            signed.verify(self.device_public_pem)
        except PeerRefused as exc:
            self.rejected_signatures += 1
            return 401, {"detail": exc.reason}
        posted = json.loads(body)
        answers = []
        with self._lock:
            self.batches.append([r["rid"] for r in posted["results"]])
            for i, result in enumerate(posted["results"]):
                rid = result["rid"]
                if result["serial"].startswith("bad"):
                    reason = f"results[{i}].serial: refused by the test"
                    answers.append({"rid": rid, "status": "refused", "inspection_id": None,
                                    "reason": reason})  # fmt: skip
                elif rid in self.records:
                    answers.append({"rid": rid, "status": "duplicate",
                                    "inspection_id": f"i-{rid}", "reason": None})  # fmt: skip
                else:
                    base64.b64decode(result["image_b64"], validate=True)
                    self.records[rid] = result
                    answers.append({"rid": rid, "status": "stored",
                                    "inspection_id": f"i-{rid}", "reason": None})  # fmt: skip
        return 200, {"results": answers}
