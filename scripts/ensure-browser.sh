#!/usr/bin/env bash
# A Chromium for the end-to-end tests: Debian's when present (installed with apt when we are root
# on Debian), otherwise Playwright's own build.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the end-to-end tests..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  exit 0
fi
echo "Installing Playwright's Chromium for the end-to-end tests..."
.venv/bin/python -m playwright install chromium
