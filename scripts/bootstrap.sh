#!/usr/bin/env bash
# Set up .venv on a fresh machine from this repo's own files (idempotent, quick when done).
# EXTRAS selects the optional backends to install (default: dev,executorch,tflite — what the tests need).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${EXTRAS:-dev,executorch,tflite}"
python="${PYTHON:-python3}"
stamp=".venv/.bootstrap-$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -c1-16)-${extras//,/_}"
if [ -f "$stamp" ]; then
  exit 0
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
echo "bootstrap: installing torch==2.13.0 (CPU) and tinysam-mobile[$extras] into .venv ..." >&2
# torch first and pinned, so nothing below can resolve to a CUDA build.
.venv/bin/pip install --quiet --disable-pip-version-check torch==2.13.0
.venv/bin/pip install --quiet --disable-pip-version-check -e ".[$extras]"
rm -f .venv/.bootstrap-*
touch "$stamp"
echo "bootstrap: done" >&2
