#!/usr/bin/env bash
# Create the venv that runs pywb for `newsarchive replay`; do nothing when it already works.
#
# pywb runs apart from the main venv: it pins old libraries (redis==2.10.6, which the
# [distributed] extra's scrapy-redis cannot use), gevent-patches the standard library when it
# serves, and a crash in it must not take the caller down. crawler/replay/pywb.py runs its
# `wayback` as a child process.
# boto3 is pywb's optional dependency for s3:// archive_paths (pywb/utils/loaders.py, S3Loader).
#
#   PYWB_VENV   where to put it (default: .venv-pywb at the repository root, where replay looks)
#   PYTHON      interpreter to build it with (default: python3)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${PYWB_VENV:-$repo_root/.venv-pywb}"
python="${PYTHON:-python3}"
requirements=("pywb>=2.9,<3" "boto3>=1.34,<2")

works() {
    [ -x "$venv/bin/wayback" ] \
        && "$venv/bin/wayback" --help >/dev/null 2>&1 \
        && "$venv/bin/python" - <<'EOF' >/dev/null 2>&1
import sys
from importlib.metadata import version
import boto3, pywb.apps.frontendapp  # noqa: F401  (the import `wayback` does at start)
major, minor = (int(p) for p in version("pywb").split(".")[:2])
sys.exit(0 if (major, minor) >= (2, 9) and major < 3 else 1)
EOF
}

if works; then
    echo "pywb venv ready: $venv ($("$venv/bin/wayback" --version 2>&1 | tail -n 1))"
    exit 0
fi

if [ ! -x "$venv/bin/python" ]; then
    echo "creating pywb venv at $venv"
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${requirements[@]}"

if ! works; then
    echo "pywb venv at $venv still does not work: try removing it and running this again" >&2
    exit 1
fi
echo "pywb venv ready: $venv ($("$venv/bin/wayback" --version 2>&1 | tail -n 1))"
