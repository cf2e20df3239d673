#!/usr/bin/env bash
# Runs the whole suite twice: on SQLite, then on a throw-away PostgreSQL on loopback.
set -uo pipefail
cd "$(dirname "$0")/.."
pgdir=$(mktemp -d /tmp/dure-pg.XXXXXX)
port=$((54000 + RANDOM % 900))
trap 'bash scripts/pg-cluster.sh stop "$pgdir"' EXIT
url=$(bash scripts/pg-cluster.sh start "$pgdir" "$port") || { echo "could not start PostgreSQL" >&2; exit 1; }

.venv/bin/python -c "import ray" 2>/dev/null || { echo "Ray is missing: make test-deps installs the extra dure[scale]" >&2; exit 1; }

echo "=== lint ==="
.venv/bin/ruff check src tests || exit 1
echo "=== layer contracts (import-linter) ==="
.venv/bin/lint-imports --no-cache || exit 1
echo "=== suite on SQLite ==="
DURE_TEST_BACKEND=sqlite .venv/bin/python -m pytest -q -p no:cacheprovider --durations=30 "$@"
sqlite_rc=$?
echo "=== suite on PostgreSQL ($url) ==="
DURE_TEST_BACKEND=postgresql DURE_TEST_POSTGRES_URL=$url .venv/bin/python -m pytest -q -p no:cacheprovider --durations=30 "$@"
pg_rc=$?
echo "SQLite suite exit $sqlite_rc, PostgreSQL suite exit $pg_rc"
[ $sqlite_rc -eq 0 ] && [ $pg_rc -eq 0 ]
