"""The edge box's side of the site's `/api/edge/v1` endpoints (plain httpx, no server code)."""

from __future__ import annotations

from typing import Any

import httpx

from dure.errors import InvalidInput

API = "/api/edge/v1"
RESULTS_PATH = f"{API}/results"
PARITY_PATH = f"{API}/parity"


class SiteUnavailable(RuntimeError):
    """The site cannot be reached, or answered 5xx: retry later."""


class SiteRefused(RuntimeError):
    """The site answered 4xx: ``status`` and its ``detail`` in words."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"site answered {status}: {detail}")
        self.status, self.detail = status, detail


class SiteClient:
    """Calls to one site with the box's API token."""

    def __init__(
        self,
        base_url: str,
        token: str,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout_s,
            transport=transport,
        )

    def close(self) -> None:
        """Close the connection pool."""
        self.http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise SiteUnavailable(f"{self.base_url}: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500:
            raise SiteUnavailable(f"{self.base_url}{path} answered {response.status_code}")
        if response.status_code >= 400:
            raise SiteRefused(response.status_code, _detail(response))
        return response

    def register(self, body: dict[str, Any]) -> dict[str, Any]:
        """Register this box's public key; the site's answer (edge id, org, site key)."""
        return self._call("POST", f"{API}/devices", json=body).json()  # type: ignore[no-any-return]

    def model_pointer(self, edge_id: str) -> dict[str, Any]:
        """The package the site wants this box to run ({"package_id": None} when none)."""
        return self._call("GET", f"{API}/model", params={"edge_id": edge_id}).json()  # type: ignore[no-any-return]

    def package(self, package_id: str, edge_id: str | None = None) -> bytes:
        """The signed package bytes (asked as box ``edge_id``: a retired box gets 410)."""
        params = {"edge_id": edge_id} if edge_id else None
        return self._call("GET", f"{API}/packages/{package_id}", params=params).content

    def post_results(self, body: bytes, signature: dict[str, str]) -> dict[str, Any]:
        """Post one signed batch of results; the site's per-item answer."""
        headers = {**signature, "Content-Type": "application/json"}
        return self._call("POST", RESULTS_PATH, content=body, headers=headers).json()  # type: ignore[no-any-return]

    def post_parity(self, body: bytes, signature: dict[str, str]) -> dict[str, Any]:
        """Post this box's signed parity report; the report as the site kept it."""
        headers = {**signature, "Content-Type": "application/json"}
        return self._call("POST", PARITY_PATH, content=body, headers=headers).json()  # type: ignore[no-any-return]


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or body)[:300]
    return str(body)[:300]


def check_site_url(url: str) -> str:
    """A site URL without its trailing slash; InvalidInput naming ``site`` otherwise."""
    if not url.startswith(("http://", "https://")):
        raise InvalidInput("site", f"{url!r} must start with http:// or https://")
    return url.rstrip("/")
