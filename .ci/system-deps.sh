#!/usr/bin/env bash
# Debian packages the tests need beyond Python: chromium and a CJK font for the browser tests of the
# report and the web app. Installed only when missing, and only where we can (root with apt-get);
# elsewhere the browser tests say what to install.
set -euo pipefail
missing=""
for pkg in chromium fonts-wqy-zenhei; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing="$missing $pkg"
done
[ -z "$missing" ] && exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
else
  echo "system-deps: please install:$missing (browser tests need them)" >&2
fi
