#!/usr/bin/env bash
# Set up .venv on a fresh machine from this repo's own files (idempotent, quick when done).
#
#   bash scripts/bootstrap.sh coreml     # what `convert --target coreml` needs, nothing else
#   bash scripts/bootstrap.sh web        # the web demo: Chromium (Debian) and web_demo's npm packages
#   bash scripts/bootstrap.sh tests      # every backend, the dev tools and the app toolchains
#
# Arguments are the package's extras (coreml, coreai, executorch, tflite, eval, dev, all), `web`
# or `tests`; none means `tests`. Kotlin / JUnit (Debian) and the Swift chroot are installed only
# for `tests`: converting never uses them. `web` (also part of `tests`) adds no Python extra: it
# installs Debian's chromium (and nodejs / npm when node is missing) and runs `npm ci` in web_demo/.
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
[ $# -gt 0 ] || set -- tests
extras=()
toolchains=0
web=0
for want in "$@"; do
  case "$want" in
    tests) extras+=(dev executorch tflite coreml coreai); toolchains=1; web=1 ;;
    web) web=1 ;;
    coreml | coreai | executorch | tflite | eval | dev | all) extras+=("$want") ;;
    *) echo "bootstrap: unknown set-up '$want' (one of: tests web coreml coreai executorch tflite eval dev all)" >&2; exit 2 ;;
  esac
done
apt_install() {
  # Debian packages, as root or through sudo; refreshes the package lists once if they are stale.
  local sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" > /dev/null || {
    $sudo_cmd apt-get update -q > /dev/null && $sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" > /dev/null
  }
}
if [ "$web" -eq 1 ]; then
  # The web demo's browser tests (tests/test_web_demo.py) drive Debian's Chromium headless.
  if [ ! -x /usr/bin/chromium ]; then
    echo "bootstrap: installing chromium from Debian ..." >&2
    apt_install chromium
  fi
  if ! command -v node > /dev/null || ! command -v npm > /dev/null; then
    echo "bootstrap: installing nodejs and npm from Debian ..." >&2
    apt_install nodejs npm
  fi
  # The page's npm packages (LiteRT.js, and playwright-core for the tests), as the lockfile pins them.
  if [ ! -d web_demo/node_modules ] || [ web_demo/package-lock.json -nt web_demo/node_modules ]; then
    echo "bootstrap: installing web_demo's npm packages (npm ci) ..." >&2
    (cd web_demo && npm ci --no-audit --no-fund --loglevel=error > /dev/null)
    touch web_demo/node_modules
  fi
fi
if [ "$toolchains" -eq 1 ]; then
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
fi
# One stamp per set of sources; it lists the extras installed so far, so a smaller set-up after a
# larger one installs nothing.
stamp=".venv/.bootstrap-$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -c1-16)"
installed=""
[ -f "$stamp" ] && installed="$(cat "$stamp")"
missing=()
for extra in "${extras[@]}"; do
  case " $installed " in *" $extra "*) ;; *) missing+=("$extra") ;; esac
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
wanted="$(printf '%s\n' $installed "${extras[@]}" | sort -u | tr '\n' ' ')"
spec="$(echo $wanted | tr ' ' ',')"
echo "bootstrap: installing torch==2.13.0 (CPU) and tinysam-mobile[$spec] into .venv ..." >&2
# torch first and pinned, so nothing below can resolve to a CUDA build.
.venv/bin/pip install --quiet --disable-pip-version-check torch==2.13.0
.venv/bin/pip install --quiet --disable-pip-version-check -e ".[$spec]"
rm -f .venv/.bootstrap-*
echo "$wanted" > "$stamp"
echo "bootstrap: done" >&2
