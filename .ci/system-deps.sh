#!/usr/bin/env bash
# Debian packages the tests need beyond Python: chromium and a CJK font for the browser tests of the
# report and the web app; redis-server for the shared-frontier tests of several crawl workers
# (tests/redis_server.py starts its own on a free port; the package's service is never used).
# Installed only when missing, and only where we can (root with apt-get); elsewhere the tests
# that need them say what to install.
set -euo pipefail
missing=""
for pkg in chromium fonts-wqy-zenhei redis-server; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
else
  echo "system-deps: please install:$missing (browser and worker tests need them)" >&2
fi
