"""The OpenAPI document, made to tell the truth in one place.

FastAPI describes the success answers and a 422 shaped like its own validation error;
Dure answers every error as RFC 9457 problem+json (``api.problems``). ``document``
replaces that 422 with the real shape and declares, for every operation, the problem
answers it can give, derived from what the operation is:

- 401 for every operation but the health check (a token, a password or a partner's
  signature is needed), 403 where a caller is known but its role or grant may not do it;
- 404 where the operation names something stored (a path parameter, an id to filter by,
  or a body that refers to stored things);
- 409 for every write and every read of a named thing (a clash with what is stored, or a
  thing not ready for, or not of the kind, the request needs);
- 400 (a body that cannot be parsed) and 413 for a request with a body (``api.guard``
  counts bodies against their limits);
- 422 for any operation that takes input, with the errors list;
- 429 for the log-in (failed attempts are counted); 503 everywhere (the store is down).

Success answers that are not JSON (images, model packages) are declared on their routes.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from dure.api.problems import MEDIA_TYPE

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "An RFC 9457 problem: what went wrong, and where when the input is at fault.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "always about:blank"},
        "title": {"type": "string", "description": "the kind of problem"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string", "description": "what went wrong, in words"},
        "field": {"type": "string", "description": "the input at fault, when one is"},
        "errors": {
            "type": "array",
            "description": "every problem found in the input (the first 50)",
            "items": {"type": "object"},
        },
        "errors_not_listed": {"type": "integer", "minimum": 1},
    },
}
WHY = {
    400: "the request body cannot be parsed (not JSON, or a broken multipart form)",
    401: "no valid credentials: a missing, unknown, revoked or expired token or signature",
    403: "the caller's role or grants do not allow this",
    404: "something the request names is absent, or not visible to the caller",
    409: "the request clashes with what is stored, or what it needs is not ready",
    413: "the request body is over its limit",
    422: "invalid input: `field` names it, `errors` lists every problem found",
    429: "too many failed log-ins: wait, then try again",
    503: "the store cannot be reached just now: retry",
}
PUBLIC = frozenset({"/api/health"})
LOGIN = "/api/auth/login"
WRITES = frozenset({"post", "put", "patch", "delete"})
METHODS = frozenset({"get", "head", "post", "put", "patch", "delete", "options"})
DROPPED_SCHEMAS = ("HTTPValidationError", "ValidationError")


def install(app: FastAPI) -> None:
    """Make ``app`` serve the document ``document`` builds (built once, then kept)."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def document(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document of ``app`` with every operation's problem answers declared."""
    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in DROPPED_SCHEMAS:
        schemas.pop(name, None)
    schemas["Problem"] = PROBLEM_SCHEMA
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                _declare_problems(path, method, operation)
    return schema


def methods_at(app: FastAPI, path: str) -> list[str]:
    """The methods the document declares at ``path`` (HEAD with GET), for a 405's Allow
    header; none when ``path`` is no operation's. A path written out in full (``/api/imports/
    sensor-readings``) is that operation's, not one with a parameter that would also match."""
    paths = app.openapi().get("paths", {})
    matching = [t for t in paths if t == path] or [
        t for t in paths if _template_regex(t).fullmatch(path)
    ]
    methods = {m.upper() for t in matching for m in paths[t] if m in METHODS}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


@cache
def _template_regex(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))


def error_statuses(path: str, method: str, operation: dict[str, Any]) -> list[int]:
    """The problem statuses ``method path`` can answer (see the module's docstring)."""
    parameters = operation.get("parameters", [])
    has_body = "requestBody" in operation
    statuses = [503]
    if path in PUBLIC:
        return [422, *statuses] if parameters or has_body else statuses
    statuses += [401]
    if path == LOGIN:
        return sorted([*statuses, 400, 413, 422, 429])
    statuses.append(403)
    names_stored = has_body or any(
        p.get("in") == "path" or p.get("name", "").endswith("_id") for p in parameters
    )
    if names_stored:
        statuses.append(404)
    if method in WRITES or any(p.get("in") == "path" for p in parameters):
        statuses.append(409)
    if has_body:
        statuses += [400, 413]
    if parameters or has_body:
        statuses.append(422)
    return sorted(statuses)


def _declare_problems(path: str, method: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation["responses"]
    problem = {MEDIA_TYPE: {"schema": PROBLEM_REF}}
    for status in error_statuses(path, method, operation):
        declared = responses.get(str(status))
        if declared is None or status == 422:  # FastAPI's own 422 is not what Dure answers
            responses[str(status)] = {"description": WHY[status], "content": problem}
        else:
            declared.setdefault("content", {}).update(problem)
