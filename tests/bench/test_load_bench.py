"""`dure bench load`: a real install under a small locust load, end to end.

No timing is asserted: the machines that run the tests are shared and noisy.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from dure.bench.load import parse_duration
from dure.cli import main
from dure.errors import InvalidInput
from dure.settings import Settings

FIGURES = {"requests", "rps", "p50_ms", "p95_ms", "p99_ms", "max_ms", "errors"}


@pytest.mark.slow
def test_five_users_for_ten_seconds(
    tmp_path: Path, install_settings: Callable[..., Settings]
) -> None:
    """On SQLite; in the PostgreSQL pass, on a fresh database of the test cluster."""
    database = install_settings("load").database_url
    out = tmp_path / "load.json"
    result = CliRunner().invoke(
        main,
        [
            "bench", "load", "--users", "5", "--duration", "10s",
            "--workdir", str(tmp_path / "run"), "--out", str(out),
            *(["--postgres-url", database] if database else []),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    backend = "postgresql" if database else "sqlite"
    assert (doc["backend"], doc["users"], doc["duration_s"]) == (backend, 5, 10.0)
    for group in ("reads", "writes", "total"):
        assert FIGURES <= doc[group].keys(), group
    errors = {name: e["first_errors"] for name, e in doc["endpoints"].items() if e["errors"]}
    assert doc["total"]["errors"] == 0, errors
    # every kind of user got through at least once: operator, engineer, dashboard
    for name in (
        "GET /api/review-queue",
        "POST /api/inspection-models/[id]/inspect",
        "GET /api/dashboard/overview",
    ):
        assert doc["endpoints"][name]["requests"] >= 1, name
    assert doc["reads"]["requests"] + doc["writes"]["requests"] == doc["total"]["requests"]
    assert doc["machine"]["cpu_count"] >= 1 and "not asserted" in doc["note"]
    assert doc["background"] is None and "goal (reads p99 <= 500 ms" in result.output


def test_an_unknown_background_is_refused_before_anything_starts(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["bench", "load", "--background", "batch,mining", "--workdir", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "--background" in result.output and "'mining'" in result.output
    assert not any(tmp_path.iterdir())  # no install was made


@pytest.mark.parametrize(("text", "seconds"), [("120s", 120.0), ("2m", 120.0), ("90", 90.0)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "0s", "-5m"])
def test_a_bad_duration_names_the_option(text: str) -> None:
    with pytest.raises(InvalidInput, match="--duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    "text",
    ["engineers=0,miners=3", "engineers", "operators=0,engineers=0,dashboards=0", "engineers=-1"],
)
def test_a_bad_mix_names_the_option_before_anything_starts(text: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["bench", "load", "--mix", text, "--workdir", str(tmp_path)])
    assert result.exit_code == 2 and "--mix" in result.output, result.output
    assert not any(tmp_path.iterdir())
