"""The simulated users of `dure bench load`, driven by locust as a library.

Run only as its own process (``python -m dure.bench.load_users PLAN OUT``): locust
monkey-patches the standard library with gevent on import, which must never touch the
process that starts the server. PLAN is the JSON written by ``dure.bench.load``: the
server's address, the readers' tokens and ids, the images engineers send, users,
spawn rate and duration. OUT receives the statistics per endpoint, reads, writes and in
all, with the first error messages of each endpoint, and every request's end time
(wall clock), method, name and milliseconds.

Three kinds of user, each holding one demo organisation's token:
operators review flagged parts (queue, image, heat-map, decision), engineers inspect
single images (and look at the heat-map), dashboard viewers refresh their pages
(overview, line view, alerts, inspections list).
"""

from __future__ import annotations

import json
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import gevent
from locust import between, events, task
from locust.contrib.fasthttp import FastHttpUser
from locust.env import Environment
from locust.stats import RequestStats, StatsEntry

PLAN: dict[str, Any] = {}
BODIES: list[tuple[str, bytes]] = []  # (content type, multipart body) of each image
SAMPLES: list[tuple[float, str, str, float]] = []  # (wall-clock end, method, name, ms)
MAX_ERRORS_KEPT = 3


def multipart(field: str, filename: str, data: bytes) -> tuple[str, bytes]:
    """One file as a multipart/form-data body: its content type and bytes."""
    boundary = uuid.uuid4().hex
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
        f'filename="{filename}"\r\nContent-Type: image/png\r\n\r\n'
    ).encode()
    return (
        f"multipart/form-data; boundary={boundary}",
        head + data + f"\r\n--{boundary}--\r\n".encode(),
    )


class DemoUser(FastHttpUser):
    """A user of one reader organisation, signed in with its role's demo token."""

    abstract = True
    role = ""
    network_timeout = 120.0
    connection_timeout = 30.0

    def on_start(self) -> None:
        self.org = random.choice(PLAN["readers"])
        self.auth = {"Authorization": f"Bearer {self.org['tokens'][self.role]}"}

    def call(self, method: str, path: str, name: str, **kw: Any) -> Any:
        """One request; any answer but 2xx is a failure carrying its status and words."""
        headers = {**self.auth, **kw.pop("headers", {})}
        with self.client.request(
            method, path, name=name, headers=headers, catch_response=True, **kw
        ) as response:
            if not 200 <= (response.status_code or 0) < 300:
                text = (response.text or "")[:200] if response.status_code else ""
                response.failure(f"{response.status_code} {text}".strip())
                return None
            kind = response.headers.get("content-type", "") if response.headers else ""
            return response.json() if "json" in kind else True


class Operator(DemoUser):
    """Reviews flagged parts: the queue, the part's image and heat-map, a decision."""

    weight = 2
    role = "operator"
    wait_time = between(1, 3)

    @task
    def review(self) -> None:
        queue = self.call("GET", "/api/review-queue?limit=20", "GET /api/review-queue")
        if not queue or not queue["items"]:
            return
        item = random.choice(queue["items"])
        self.call("GET", f"/api/blobs/{item['image_sha256']}", "GET /api/blobs/[image]")
        if item.get("heatmap_sha256"):
            self.call("GET", f"/api/blobs/{item['heatmap_sha256']}", "GET /api/blobs/[heat-map]")
        decision: dict[str, Any] = {"decision": "accept"}
        if item.get("defect_type"):
            decision = {"decision": "reject", "defect_type": item["defect_type"]}
        self.call(
            "POST",
            f"/api/inspections/{item['id']}/review",
            "POST /api/inspections/[id]/review",
            json=decision,
        )


class Engineer(DemoUser):
    """Inspects one image of the part now, then looks at its heat-map."""

    weight = 1
    role = "engineer"
    wait_time = between(1, 3)

    @task
    def inspect(self) -> None:
        content_type, body = random.choice(BODIES)
        answer = self.call(
            "POST",
            f"/api/inspection-models/{self.org['model_id']}/inspect",
            "POST /api/inspection-models/[id]/inspect",
            data=body,
            headers={"Content-Type": content_type},
        )
        if answer and answer.get("heatmap_url"):
            self.call("GET", answer["heatmap_url"], "GET /api/blobs/[heat-map]")


class DashboardViewer(DemoUser):
    """A dashboard page refreshing: overview, the line, alerts, newest inspections."""

    weight = 2
    role = "viewer"
    wait_time = between(2, 5)

    @task
    def refresh(self) -> None:
        self.call("GET", "/api/dashboard/overview", "GET /api/dashboard/overview")
        self.call(
            "GET", f"/api/lines/{self.org['line_id']}/dashboard", "GET /api/lines/[id]/dashboard"
        )
        self.call("GET", "/api/alerts?limit=20", "GET /api/alerts")
        self.call("GET", "/api/inspections?limit=50", "GET /api/inspections")


def figures(entry: StatsEntry, seconds: float) -> dict[str, Any]:
    """Requests/s, percentiles (ms), max and failures of one statistics entry."""
    n = entry.num_requests
    return {
        "requests": n,
        "rps": round(n / seconds, 2) if seconds else 0.0,
        "p50_ms": entry.get_response_time_percentile(0.5) if n else None,
        "p95_ms": entry.get_response_time_percentile(0.95) if n else None,
        "p99_ms": entry.get_response_time_percentile(0.99) if n else None,
        "max_ms": round(entry.max_response_time, 1) if n else None,
        "mean_ms": round(entry.avg_response_time, 1) if n else None,
        "errors": entry.num_failures,
    }


def collect(stats: RequestStats, seconds: float) -> dict[str, Any]:
    """Figures per endpoint, for reads (GET) and writes (POST), and in all."""
    messages: dict[str, list[str]] = {}
    for error in stats.errors.values():
        key = (
            f"{error.method} {error.name}"
            if not error.name.startswith(error.method)
            else error.name
        )
        messages.setdefault(key, []).append(f"{error.occurrences}x {error.error}")
    groups = {"reads": StatsEntry(stats, "reads", ""), "writes": StatsEntry(stats, "writes", "")}
    endpoints = {}
    for entry in sorted(stats.entries.values(), key=lambda e: e.name):
        groups["reads" if entry.method == "GET" else "writes"].extend(entry)
        endpoints[entry.name] = {
            "class": "read" if entry.method == "GET" else "write",
            **figures(entry, seconds),
            "first_errors": messages.get(entry.name, [])[:MAX_ERRORS_KEPT],
        }
    out = {name: figures(group, seconds) for name, group in groups.items()}
    out["total"] = figures(stats.total, seconds)
    out["endpoints"] = endpoints
    return out


@events.request.add_listener
def _keep(request_type: str, name: str, response_time: float, **_: Any) -> None:
    """Every request's end time and duration, to see when slow ones happened."""
    SAMPLES.append((time.time(), request_type, name, response_time))


def run(plan_file: Path, out_file: Path) -> None:
    """Run the planned load against the server and write its statistics to ``out_file``."""
    PLAN.update(json.loads(plan_file.read_text()))
    for path in sorted(Path(PLAN["images_dir"]).glob("*.png")):
        BODIES.append(multipart("image", path.name, path.read_bytes()))
    kinds = {"operators": Operator, "engineers": Engineer, "dashboards": DashboardViewer}
    for kind, weight in PLAN.get("mix", {}).items():
        kinds[kind].weight = weight
    classes = [cls for cls in kinds.values() if cls.weight > 0]
    env = Environment(user_classes=classes, host=PLAN["host"], events=events)
    runner = env.create_local_runner()
    started = time.monotonic()
    runner.start(PLAN["users"], spawn_rate=PLAN["spawn_rate"])
    gevent.spawn_later(PLAN["duration_s"], runner.quit)
    runner.greenlet.join()
    seconds = time.monotonic() - started
    result = collect(env.stats, seconds)
    result["seconds"] = round(seconds, 1)
    result["user_classes"] = {
        cls.__name__: {"role": cls.role, "weight": cls.weight}
        for cls in (Operator, Engineer, DashboardViewer)
    }
    result["samples"] = [[round(t, 3), m, n, round(ms, 2)] for t, m, n, ms in SAMPLES]
    out_file.write_text(json.dumps(result))


if __name__ == "__main__":
    run(Path(sys.argv[1]), Path(sys.argv[2]))
