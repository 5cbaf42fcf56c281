#!/usr/bin/env bash
# Set up .venv on a fresh machine from this repo's own files (idempotent, quick when done).
# EXTRAS selects the optional backends to install (default: dev,executorch,tflite,coreml,coreai — what the tests need).
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${EXTRAS:-dev,executorch,tflite,coreml,coreai}"
python="${PYTHON:-python3}"
# The Kotlin core's tests (tests/test_golden.py) compile with Debian's kotlinc and JUnit 4.
if ! command -v kotlinc > /dev/null || [ ! -f /usr/share/java/junit4.jar ]; then
  echo "bootstrap: installing kotlin and junit4 from Debian ..." >&2
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -q kotlin junit4 > /dev/null || {
    $sudo_cmd apt-get update -q > /dev/null && $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -q kotlin junit4 > /dev/null
  }
fi
# The iOS core's tests (tests/test_swift_core.py) run Swift 6 from a Debian trixie chroot.
bash scripts/swift_toolchain.sh
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
