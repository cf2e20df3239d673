"""`dure bench load`: many people using one install at once, measured from outside.

A fresh install (``dure init`` + ``dure up`` with the demo world, on SQLite or on an empty
PostgreSQL database) is served on loopback in its own process. Locust, in a process of
its own (``dure.bench.load_users``), plays operators reviewing flagged parts, engineers
inspecting single images and dashboards refreshing, all of the demo suppliers Daesung and
Mirae. With ``background``, a third tenant (Hanul) meanwhile submits a 240-image batch
inspection and a training job through the API, and the run records how far they got.
Timings are reported, never asserted: they depend on the machine and what else runs on it.
"""

from __future__ import annotations

import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil
from PIL import Image

from dure.bench.common import machine
from dure.errors import InvalidInput
from dure.ports import free_port
from dure.services.demo.sheet_metal import DEFECT_TYPES, sheet_image
from dure.settings import child_environment

READERS = ("daesung", "mirae")
BACKGROUND_ORG = "hanul"
BACKGROUND_KINDS = ("batch", "training")
BATCH_IMAGES = 240
ENGINEER_IMAGES = 12  # a third of them defective, so the review queue keeps filling
READ_GOAL_MS = 500.0
READ_GOAL_BACKGROUND_MS = 200.0
START_TIMEOUT_S = 900.0


@dataclass
class Server:
    """The install under load: its process, address and home."""

    home: Path
    port: int
    postgres_url: str | None
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        env = {"DURE_HOME": str(self.home)}
        if self.postgres_url:
            env["DURE_DATABASE_URL"] = self.postgres_url
        return child_environment(env)

    def start(self, workdir: Path) -> float:
        """``dure init`` then ``dure up`` (demo world built on the way); seconds to health."""
        started = time.monotonic()
        init = subprocess.run(
            [sys.executable, "-m", "dure.cli", "init"],
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        if init.returncode != 0:
            raise RuntimeError(f"dure init failed: {init.stderr[-2000:]}")
        self.log = workdir / "server.log"
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "dure.cli", "up", "--port", str(self.port)],
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"the server exited with {self.proc.returncode}: {self.log_tail()}"
                )
            try:
                if httpx.get(self.url + "/api/health", timeout=2).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the server was not healthy in {START_TIMEOUT_S:.0f} s")

    def log_tail(self) -> str:
        """The last lines the server wrote."""
        return self.log.read_text(errors="replace")[-2000:] if self.log else ""

    def stop(self) -> None:
        """Stop the server process (SIGTERM, then SIGKILL after 30 s)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


def _png(seed: int, label: str) -> bytes:
    out = io.BytesIO()
    Image.fromarray(sheet_image(seed, label).pixels).save(out, "PNG")
    return out.getvalue()


def _label(k: int) -> str:
    return DEFECT_TYPES[k % len(DEFECT_TYPES)] if k % 3 == 2 else "good"


class Api:
    """Calls to the install as one demo user (by token); unexpected answers raise."""

    def __init__(self, url: str, token: str) -> None:
        self.client = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=600
        )

    def __call__(self, method: str, path: str, **kw: Any) -> Any:
        response = self.client.request(method, path, **kw)
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {path} -> {response.status_code} {response.text[:400]}")
        return response.json()


def _reader(url: str, slug: str, tokens: dict[str, str]) -> dict[str, Any]:
    """What the simulated users of ``slug`` need: tokens, the demo model, a line."""
    api = Api(url, tokens["engineer"])
    models = [m for m in api("GET", "/api/inspection-models")["items"] if m["blob_sha256"]]
    lines = api("GET", "/api/lines")["items"]
    if not models or not lines:
        raise RuntimeError(f"the demo world of {slug} has no trained model or no line")
    return {
        "org": slug,
        "tokens": {role: tokens[role] for role in ("operator", "engineer", "viewer")},
        "model_id": models[0]["id"],
        "part_id": models[0]["part_id"],
        "line_id": lines[0]["id"],
    }


@dataclass
class Background:
    """Another tenant's heavy work during the load: a batch inspection and a training."""

    url: str
    token: str
    kinds: tuple[str, ...]
    delay_s: float = 5.0
    batch: list[tuple[str, bytes]] = field(default_factory=list)
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def prepare(self) -> None:
        """Make the batch's images before the clock starts."""
        if "batch" in self.kinds:
            self.batch = [
                (f"bg-{k:03d}.png", _png(900_000 + k, _label(k))) for k in range(BATCH_IMAGES)
            ]

    def run(self, started: float) -> None:
        """Submit the jobs after ``delay_s``, then follow them until told to stop."""
        try:
            if self.stop.wait(self.delay_s):
                return
            api = Api(self.url, self.token)
            model = next(
                m for m in api("GET", "/api/inspection-models")["items"] if m["blob_sha256"]
            )
            if "training" in self.kinds:
                draft = api(
                    "POST",
                    "/api/inspection-models",
                    json={"part_id": model["part_id"], "name": "load bench retraining"},
                )
                self._submitted(api("POST", f"/api/inspection-models/{draft['id']}/train"), started)
            if "batch" in self.kinds:
                files = [("images", (name, data, "image/png")) for name, data in self.batch]
                job = api(
                    "POST", f"/api/inspection-models/{model['id']}/inspect-batch", files=files
                )
                self._submitted(job, started)
            while not self.stop.wait(2.0):
                self._follow(api, started)
            self._follow(api, started)
        except Exception as exc:  # reported with the figures; the load goes on
            self.errors.append(f"{type(exc).__name__}: {exc}"[:500])

    def _submitted(self, job: dict[str, Any], started: float) -> None:
        self.jobs[job["id"]] = {
            "kind": job["kind"],
            "submitted_at_s": round(time.time() - started, 1),
            "status": job["status"],
            "seen": [],
        }

    def _follow(self, api: Api, started: float) -> None:
        for job_id, seen in self.jobs.items():
            job = api("GET", f"/api/jobs/{job_id}")
            seen["status"], seen["progress"] = job["status"], round(job["progress"], 3)
            seen["error"] = job.get("error")
            if not seen["seen"] or seen["seen"][-1][1] != job["status"]:
                seen["seen"].append((round(time.time() - started, 1), job["status"]))

    def report(self) -> dict[str, Any]:
        """The jobs' states as seen during the window, and whether each ran in it."""
        jobs = []
        for job_id, seen in self.jobs.items():
            states = {status for _, status in seen["seen"]}
            jobs.append(
                {
                    "id": job_id,
                    **seen,
                    "seen": [{"at_s": at, "status": status} for at, status in seen["seen"]],
                    "ran_in_window": bool(states & {"running", "succeeded"}),
                }
            )
        return {
            "org": BACKGROUND_ORG,
            "kinds": list(self.kinds),
            "jobs": jobs,
            "errors": self.errors,
        }


class CpuClock:
    """CPU seconds the server, the load generator (children waited for) and the whole
    machine spent while the load ran: who had the processors."""

    def __init__(self, server: subprocess.Popen[bytes] | None) -> None:
        self.server = psutil.Process(server.pid) if server is not None else None

    def _server_s(self) -> float:
        if self.server is None:
            return 0.0
        times = self.server.cpu_times()
        return float(times.user + times.system)

    @staticmethod
    def _children_s() -> float:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime

    def __enter__(self) -> CpuClock:
        self.server_s, self.children_s = self._server_s(), self._children_s()
        psutil.cpu_percent(None)
        return self

    def __exit__(self, *_: object) -> None:
        self.server_s = self._server_s() - self.server_s
        self.children_s = self._children_s() - self.children_s
        self.busy_percent = psutil.cpu_percent(None)

    def figures(self, seconds: float) -> dict[str, float]:
        """CPU cores used on average by the server and by locust; the machine's busy %."""
        return {
            "server_cpu_cores_used": round(self.server_s / seconds, 2),
            "locust_cpu_cores_used": round(self.children_s / seconds, 2),
            "machine_cpu_busy_percent": self.busy_percent,
        }


def _percentiles(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"requests": 0, "p50_ms": None, "p99_ms": None}
    p50, p99 = np.percentile(values, [50, 99])
    return {"requests": len(values), "p50_ms": round(float(p50), 1), "p99_ms": round(float(p99), 1)}


def reads_over_time(samples: list[list[Any]], started: float, step_s: int = 10) -> list[Any]:
    """Reads' p50 and p99 (exact, ms) in each ``step_s`` seconds of the run."""
    buckets: dict[int, list[float]] = {}
    for at, method, _, ms in samples:
        if method == "GET":
            buckets.setdefault(int((at - started) // step_s), []).append(ms)
    return [{"from_s": k * step_s, **_percentiles(v)} for k, v in sorted(buckets.items())]


def reads_with_background(
    samples: list[list[Any]], started: float, background: dict[str, Any]
) -> dict[str, Any]:
    """Reads' p50 and p99 while a background job was seen running, and the rest of the run."""
    spans = []
    for job in background["jobs"]:
        seen = job["seen"]
        begin = next((s["at_s"] for s in seen if s["status"] == "running"), None)
        end = next((s["at_s"] for s in seen if s["status"] in ("succeeded", "failed")), None)
        if begin is not None:
            spans.append((begin, end if end is not None else float("inf")))
    during: list[float] = []
    rest: list[float] = []
    for at, method, _, ms in samples:
        if method == "GET":
            t = at - started
            (during if any(a <= t <= b for a, b in spans) else rest).append(ms)
    return {"while_jobs_ran": _percentiles(during), "otherwise": _percentiles(rest)}


INSPECT = "POST /api/inspection-models/[id]/inspect"


def reads_by_inspections_in_flight(samples: list[list[Any]]) -> list[dict[str, Any]]:
    """Reads' p50 and p99 by how many single-image inspections overlapped them: whether
    scoring in the server's process is what slows reading down."""
    rows = np.asarray([(at - ms / 1000, at, ms) for at, _, _, ms in samples]).reshape(-1, 3)
    is_read = np.asarray([method == "GET" for _, method, _, _ in samples], dtype=bool)
    inspects = rows[np.asarray([name == INSPECT for _, _, name, _ in samples], dtype=bool)]
    groups: dict[str, list[float]] = {"0": [], "1": [], "2-3": [], "4+": []}
    for begin, end, ms in rows[is_read]:
        n = int(np.sum((inspects[:, 0] < end) & (inspects[:, 1] > begin)))
        groups["0" if n == 0 else "1" if n == 1 else "2-3" if n <= 3 else "4+"].append(ms)
    return [{"inspections_in_flight": k, **_percentiles(v)} for k, v in groups.items()]


# How many of each kind of user, relative to the others.
DEFAULT_MIX = {"operators": 2, "engineers": 1, "dashboards": 2}


def parse_mix(text: str) -> dict[str, int]:
    """``operators=2,engineers=0`` as a dict; a clear error naming --mix otherwise."""
    mix: dict[str, int] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        kind, _, weight = part.partition("=")
        if not weight.strip().isdigit():
            raise InvalidInput("--mix", f"{part!r}: write kind=weight, e.g. engineers=0")
        mix[kind.strip()] = int(weight)
    return mix


def _engineer_images(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for k in range(ENGINEER_IMAGES):
        (folder / f"part-{k:02d}-{_label(k)}.png").write_bytes(_png(800_000 + k, _label(k)))


def _run_locust(
    plan: dict[str, Any], workdir: Path, background: Background | None
) -> dict[str, Any]:
    plan_file, out_file = workdir / "plan.json", workdir / "locust-stats.json"
    plan_file.write_text(json.dumps(plan))
    log = workdir / "locust.log"
    thread = None
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dure.bench.load_users", str(plan_file), str(out_file)],
            env=child_environment({}),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        started = time.time()
        if background is not None:
            thread = threading.Thread(target=background.run, args=(started,), daemon=True)
            thread.start()
        try:
            code = proc.wait(plan["duration_s"] + 300)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            if thread is not None and background is not None:
                background.stop.set()
                thread.join(60)
    if code != 0 or not out_file.exists():
        tail = log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"the locust process failed ({code}): {tail}")
    stats: dict[str, Any] = json.loads(out_file.read_text())
    stats["started"] = started
    return stats


def run_load_bench(
    users: int = 50,
    spawn_rate: float = 10.0,
    duration_s: float = 120.0,
    postgres_url: str | None = None,
    background: tuple[str, ...] = (),
    workdir: Path | None = None,
    mix: dict[str, int] | None = None,
) -> dict[str, Any]:
    """Serve a fresh demo install, put it under load and return the figures (see module).

    ``mix`` weighs the kinds of user (operators, engineers, dashboards; 2, 1, 2 by
    default); a weight of 0 leaves that kind out."""
    weights = {**DEFAULT_MIX, **(mix or {})}
    for kind, weight in weights.items():
        if kind not in DEFAULT_MIX or weight < 0:
            raise InvalidInput("--mix", f"{kind}={weight}: kinds are {sorted(DEFAULT_MIX)}, >= 0")
    if not any(weights.values()):
        raise InvalidInput("--mix", "give at least one kind of user a weight above 0")
    for kind in background:
        if kind not in BACKGROUND_KINDS:
            raise InvalidInput("--background", f"{kind!r} is not one of {BACKGROUND_KINDS}")
    if users < 1 or spawn_rate <= 0 or duration_s <= 0:
        raise InvalidInput("--users/--spawn-rate/--duration", "must be above zero")
    scratch = None
    if workdir is None:
        scratch = tempfile.mkdtemp(prefix="dure-load-")
        workdir = Path(scratch)
    workdir.mkdir(parents=True, exist_ok=True)
    server = Server(workdir / "home", free_port(), postgres_url)
    try:
        start_s = server.start(workdir)
        tokens_file = server.home / "demo-tokens.json"
        if not tokens_file.exists():
            raise InvalidInput(
                "--postgres-url", "the database already holds a demo world: give an empty one"
            )
        tokens = json.loads(tokens_file.read_text())
        _engineer_images(workdir / "images")
        plan = {
            "host": server.url,
            "users": users,
            "spawn_rate": spawn_rate,
            "duration_s": duration_s,
            "readers": [_reader(server.url, slug, tokens[slug]) for slug in READERS],
            "images_dir": str(workdir / "images"),
            "mix": weights,
        }
        bg = None
        if background:
            bg = Background(server.url, tokens[BACKGROUND_ORG]["engineer"], background)
            bg.prepare()
        load_before = os.getloadavg()
        with CpuClock(server.proc) as cpu:
            stats = _run_locust(plan, workdir, bg)
        load_after = os.getloadavg()
        if server.proc is not None and server.proc.poll() is not None:
            raise RuntimeError(f"the server died during the load: {server.log_tail()}")
    finally:
        server.stop()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    samples, started = stats.pop("samples"), stats.pop("started")
    goal = READ_GOAL_BACKGROUND_MS if background else READ_GOAL_MS
    reads_p99 = stats["reads"]["p99_ms"]
    return {
        "bench": "load",
        "backend": "postgresql" if postgres_url else "sqlite",
        "users": users,
        "spawn_rate": spawn_rate,
        "duration_s": duration_s,
        "mix": weights,
        "background": bg.report() if bg else None,
        "server_start_s": round(start_s, 1),
        **stats,
        "reads_over_time": reads_over_time(samples, started),
        "reads_by_inspections_in_flight": reads_by_inspections_in_flight(samples),
        "reads_with_background": (
            reads_with_background(samples, started, bg.report()) if bg else None
        ),
        "goal": {
            "reads_p99_ms_at_most": goal,
            "errors": 0,
            "met": reads_p99 is not None and reads_p99 <= goal and stats["total"]["errors"] == 0,
        },
        "machine": {
            **machine(),
            "cpu_count": os.cpu_count(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in load_after],
            **cpu.figures(stats["seconds"]),
        },
        "note": (
            "timings are measured, not asserted: they depend on the machine and on what "
            "else runs on it; the server, locust and the background client share its CPUs"
        ),
    }


def parse_duration(text: str) -> float:
    """Seconds of ``120``, ``120s``, ``2m`` or ``1h``; InvalidInput naming --duration."""
    units = {"s": 1.0, "m": 60.0, "h": 3600.0}
    value, unit = (text[:-1], text[-1]) if text and text[-1] in units else (text, "s")
    try:
        seconds = float(value) * units[unit]
    except ValueError:
        raise InvalidInput("--duration", f"{text!r} is not like 120s, 2m or 1h") from None
    if not 0 < seconds <= 24 * 3600:
        raise InvalidInput("--duration", "between 1 s and 24 h")
    return seconds


def load_table(results: dict[str, Any]) -> list[str]:
    """The figures as lines of a table, then the jobs in the background and the goal."""
    head = (
        f"{'requests':42} {'count':>7} {'req/s':>7} {'p50':>6} {'p95':>6} {'p99':>6} "
        f"{'max':>7} {'errors':>6}"
    )

    def row(name: str, f: dict[str, Any]) -> str:
        ms = [
            f"{f[k]:6.0f}" if f[k] is not None else f"{'-':>6}"
            for k in ("p50_ms", "p95_ms", "p99_ms")
        ]
        top = f"{f['max_ms']:7.0f}" if f["max_ms"] is not None else f"{'-':>7}"
        return f"{name:42} {f['requests']:7d} {f['rps']:7.1f} {' '.join(ms)} {top} {f['errors']:6d}"

    lines = [
        f"{results['backend']}, {results['users']} users, {results['seconds']:.0f} s "
        f"(times in ms; {results['machine']['cpu_count']} CPUs, load average "
        f"{results['machine']['load_average_before'][0]} before)",
        head,
    ]
    lines += [row(name, f) for name, f in results["endpoints"].items()]
    lines += [row(name, results[name]) for name in ("reads", "writes", "total")]
    for name, f in results["endpoints"].items():
        lines += [f"  {name}: {message}" for message in f["first_errors"]]
    if results["background"]:
        for job in results["background"]["jobs"]:
            states = ", ".join(f"{s['status']} at {s['at_s']} s" for s in job["seen"])
            lines.append(
                f"background {job['kind']} ({results['background']['org']}), submitted at "
                f"{job['submitted_at_s']} s: {states}; ran in the window: {job['ran_in_window']}"
            )
        lines += [f"background error: {e}" for e in results["background"]["errors"]]
        split = results["reads_with_background"]
        lines.append(
            "reads while a background job ran: "
            + "; otherwise: ".join(
                f"{f['requests']} requests, p50 {f['p50_ms']} ms, p99 {f['p99_ms']} ms"
                for f in (split["while_jobs_ran"], split["otherwise"])
            )
        )
    lines.append(
        "reads by single-image inspections in flight: "
        + "; ".join(
            f"{g['inspections_in_flight']}: p50 {g['p50_ms']}, p99 {g['p99_ms']} ms "
            f"({g['requests']})"
            for g in results["reads_by_inspections_in_flight"]
        )
    )
    m = results["machine"]
    lines.append(
        f"CPU cores used: server {m['server_cpu_cores_used']}, locust "
        f"{m['locust_cpu_cores_used']}; machine {m['machine_cpu_busy_percent']} % busy"
    )
    goal = results["goal"]
    p99 = results["reads"]["p99_ms"]
    lines.append(
        f"goal (reads p99 <= {goal['reads_p99_ms_at_most']:.0f} ms, 0 errors): "
        f"{'met' if goal['met'] else 'missed'} (reads p99 {p99} ms, "
        f"{results['total']['errors']} errors)"
    )
    return lines
