"""The line-side runtime runs without torch: importing it and `dure edge --help` load none
of torch, faiss, scipy, sklearn or sqlalchemy (the import-linter contract holds the code;
this holds what Python actually loads, through every package __init__ on the way)."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("torch", "faiss", "scipy", "sklearn", "sqlalchemy", "lightgbm", "ray", "fastapi")

PROBE = """
import json, sys
from click.testing import CliRunner
import dure.edge.runtime, dure.edge.models, dure.cli.edge
from dure.cli import main
result = CliRunner().invoke(main, ["edge", "--help"])
assert result.exit_code == 0, result.output
for name in ("enrol", "run", "status", "load"):
    assert name in result.output, result.output
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in %r)))
"""


def test_the_edge_runtime_and_its_help_load_no_heavy_library() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE % (HEAVY,)], capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_python_m_dure_cli_edge_help_runs() -> None:
    probe = (
        "import runpy, sys; sys.argv = ['dure', 'edge', '--help']\n"
        "try:\n    runpy.run_module('dure.cli', run_name='__main__')\n"
        "except SystemExit as e:\n    assert e.code in (0, None), e.code\n"
        f"print('HEAVY', sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "Commands:" in out.stdout and "enrol" in out.stdout
    assert "HEAVY []" in out.stdout
