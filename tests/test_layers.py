"""The layer rules of DESIGN.md hold, and the import-linter contracts that keep them would
catch a break: a copy of the source with one forbidden import fails `lint-imports`."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT), "--config", str(root / "pyproject.toml"), "--no-cache"],
        cwd=root,
        env={"PYTHONPATH": str(root / "src"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(ROOT / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


@pytest.fixture(scope="module")
def lint_available() -> None:
    if not LINT.exists():
        pytest.fail(f"{LINT} is missing: `make test` installs import-linter with the test extras")


def test_the_contracts_hold(lint_available: None) -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.split("Contracts:")[-1].split("kept")[0]


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        (
            "services/inspection/reviews.py",
            "from dure.store import tables as _t",
            "Services build no SQL",
        ),
        ("services/dashboard/views.py", "import sqlalchemy as _sa", "Services build no SQL"),
        (
            "api/routes/parts.py",
            "from dure.store.session import Store as _S",
            "The API reaches data only through services",
        ),
        ("models/vision/patchcore.py", "import fastapi as _f", "Models know nothing of HTTP"),
        ("store/scoped.py", "import dure.services.dashboard.views as _v", "Layers"),
        ("domain/records.py", "import dure.store.tables as _t", "Layers"),
        ("services/inspection/batches.py", "import ray as _r", "Only dure.scale imports Ray"),
        (
            "scale/batch.py",
            "from dure.store.blobs import BlobStore as _B",
            "Ray workers never touch the store",
        ),
        ("models/vision/scoring.py", "import torch as _t", "The line-side inference needs no"),
        # indirect: the edge inspector stitches tiles with tiling.py, which must stay light too
        (
            "models/vision/tiling.py",
            "import scipy.ndimage as _nd",
            "The line-side inference needs no",
        ),
        # indirect: the edge runtime verifies packages with collab.packages, which stays light
        (
            "collab/packages.py",
            "import sqlalchemy as _sa",
            "The line-side runtime needs no torch",
        ),
    ],
)
def test_a_forbidden_import_breaks_the_build(
    lint_available: None, tmp_path: Path, module: str, line: str, contract: str
) -> None:
    root = _copy(tmp_path)
    target = root / "src" / "dure" / module
    text = target.read_text()
    head, rest = text.split("\nfrom __future__ import annotations\n", 1)
    target.write_text(f"{head}\nfrom __future__ import annotations\n{line}\n{rest}")
    result = _lint(root)
    assert result.returncode != 0, result.stdout
    broken = result.stdout.split("Broken contracts")[-1]
    assert contract in broken, result.stdout


def test_no_service_reaches_the_database_connection() -> None:
    """Services get repositories, never a connection or an engine to run SQL of their own."""
    reach = re.compile(r"\.(engine|conn|_conn)\b")
    offenders = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in sorted((ROOT / "src" / "dure" / "services").rglob("*.py"))
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if reach.search(line)
    ]
    assert offenders == []
