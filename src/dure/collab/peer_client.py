"""HTTP calls from this install to a partner's install, signed and with the partner token."""

from __future__ import annotations

import json
from typing import Any

import httpx

from dure.collab.signing import sign_request
from dure.errors import DureError


class PartnerUnreachable(DureError):
    """The partner's install did not answer, or answered with an error (its words kept)."""

    status = 502

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.remote_status = status


class PeerClient:
    """Signs and sends requests from one of our organisations to one partner organisation."""

    def __init__(
        self,
        url: str,
        sender: str,
        receiver: str,
        private_pem: bytes,
        token: str | None,
        timeout: float = 60.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.sender = sender
        self.receiver = receiver
        self._private = private_pem
        self._token = token
        self._timeout = timeout

    def request(self, method: str, path: str, body: Any = None, *, raw: bool = False) -> Any:
        """Send one request; the JSON answer (or bytes with ``raw``), else PartnerUnreachable."""
        data = b"" if body is None else json.dumps(body, default=str).encode()
        headers = sign_request(self._private, method, path, self.sender, self.receiver, data)
        headers["Content-Type"] = "application/json"
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            response = httpx.request(
                method, self.url + path, content=data, headers=headers, timeout=self._timeout
            )
        except httpx.HTTPError as exc:
            raise PartnerUnreachable(f"{self.url} did not answer: {exc}") from None
        if response.status_code >= 400:
            raise PartnerUnreachable(
                f"{self.url}{path} refused: {response.status_code} {_reason(response)}",
                response.status_code,
            )
        return response.content if raw else response.json()

    def get(self, path: str, *, raw: bool = False) -> Any:
        """GET ``path`` on the partner's install."""
        return self.request("GET", path, raw=raw)

    def post(self, path: str, body: Any = None) -> Any:
        """POST ``body`` as JSON to ``path`` on the partner's install."""
        return self.request("POST", path, body)


def _reason(response: httpx.Response) -> str:
    """A refusal's reason when the partner answered as a Dure install does (problem+json);
    nothing of any other body is repeated (it may be a page the URL should never reach)."""
    if not response.headers.get("content-type", "").startswith("application/problem+json"):
        return "(not a Dure install's answer)"
    try:
        detail = response.json().get("detail")
    except ValueError:
        return "(not a Dure install's answer)"
    return str(detail)[:300] if isinstance(detail, str) else ""
