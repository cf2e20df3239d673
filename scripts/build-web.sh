#!/usr/bin/env bash
# Builds the dashboard (web/ -> web/dist) from the npm registry's packages, pinned by
# package-lock.json. Installs Debian's nodejs and npm first when they are missing (as root).
# Skips the build when web/dist is newer than every source file.
set -euo pipefail
cd "$(dirname "$0")/../web"
if [ -f dist/index.html ] && [ -z "$(find src index.html package.json package-lock.json vite.config.js -newer dist/index.html -print -quit)" ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q && apt-get install -y -q nodejs npm >/dev/null
  else
    echo "the dashboard needs Node.js and npm: sudo apt-get install -y nodejs npm" >&2
    echo "(the API still serves; / says the dashboard is not built)" >&2
    exit 0
  fi
fi
# `npm ci` installs exactly the lock file; where a registry mirror left other platforms'
# optional packages out of it, `npm install` (same pinned versions) completes it.
npm ci --no-audit --no-fund --loglevel=silent || npm install --no-audit --no-fund --loglevel=error
npm run build --silent
