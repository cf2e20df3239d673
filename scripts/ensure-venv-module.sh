#!/usr/bin/env bash
# Debian ships Python's venv module separately; install it when `python3 -m venv` fails.
set -euo pipefail
if [ "$(id -u)" != 0 ]; then
  echo "Python's venv module is missing; run: sudo apt-get install -y python3-venv" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q python3-venv >/dev/null
