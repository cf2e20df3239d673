"""Peak memory of a piece of work, measured in a fresh Python process."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

_REPORT = """
status = open('/proc/self/status').read()
import re
print(int(re.search(r'VmHWM:\\s+(\\d+)', status).group(1)) // 1024)
"""


def peak_memory(setup: str, call: str, path: Path) -> tuple[str, int]:
    """Run ``setup`` then ``call`` (which may read ``sys.argv[1]``, here ``path``) in a new
    process; the name of the exception ``call`` raised, and the process's peak MB."""
    probe = (
        "import sys\n"
        + textwrap.dedent(setup)
        + f"try:\n    {call}\nexcept Exception as exc:\n    print(type(exc).__name__)\n"
        + _REPORT
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, str(path)], capture_output=True, text=True, timeout=120
    )
    try:
        kind, peak_mb = out.stdout.split()
    except ValueError as exc:
        raise AssertionError(out.stdout + out.stderr) from exc
    return kind, int(peak_mb)
