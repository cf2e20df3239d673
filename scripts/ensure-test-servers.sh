#!/usr/bin/env bash
# Installs the servers the tests start on loopback when they are missing:
# Debian's PostgreSQL (the suite runs against it too) and Mosquitto (live MQTT tests).
set -euo pipefail
missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
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
