#!/usr/bin/env bash
# Installs the servers the tests start on loopback when they are missing:
# Debian's PostgreSQL (the suite runs against it too), Mosquitto (live MQTT tests) and
# Chromium (the dashboard's browser tests drive it with Playwright).
set -euo pipefail
missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
[ -x /usr/bin/chromium ] || missing+=(chromium)
# Korean glyphs for the screenshots of the Korean pages
[ -d /usr/share/fonts/truetype/nanum ] || missing+=(fonts-nanum)
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "missing: ${missing[*]}; run as root or: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q "${missing[@]}" >/dev/null
# Debian starts the packaged broker as a service where it can; the tests start their own
# on free ports, so a running one does no harm.
