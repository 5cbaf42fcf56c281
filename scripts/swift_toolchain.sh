#!/usr/bin/env bash
# A Swift 6 toolchain for Linux from Debian's registry: a Debian trixie chroot with `swiftlang`.
# Usage: scripts/swift_toolchain.sh [swift args...]   e.g.  scripts/swift_toolchain.sh test --package-path ios_demo/TinySAMKit
# Without arguments it only makes sure the toolchain exists. Needs root (debootstrap, chroot).
# SWIFT_ROOT (default ~/.cache/tinysam-mobile/swift-trixie) holds the chroot (~3 GB, ~5-10 min once).
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
root="${SWIFT_ROOT:-$HOME/.cache/tinysam-mobile/swift-trixie}"
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"

if [ ! -x "$root/usr/libexec/swift/bin/swift" ]; then
  echo "swift_toolchain: building a Debian trixie chroot with swiftlang in $root ..." >&2
  if ! command -v debootstrap > /dev/null; then
    $sudo_cmd apt-get update -qq && $sudo_cmd apt-get install -y -qq debootstrap > /dev/null
  fi
  mkdir -p "$(dirname "$root")"
  partial="$root.partial"
  $sudo_cmd rm -rf "$partial"
  $sudo_cmd debootstrap --variant=minbase trixie "$partial" http://deb.debian.org/debian > /dev/null
  $sudo_cmd mount -t proc proc "$partial/proc"
  trap '$sudo_cmd umount "$partial/proc" 2> /dev/null || true' EXIT
  $sudo_cmd chroot "$partial" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends swiftlang libc6-dev libstdc++-14-dev > /dev/null
  $sudo_cmd umount "$partial/proc"
  trap - EXIT
  $sudo_cmd rm -rf "$root"
  $sudo_cmd mv "$partial" "$root"
fi
[ "$#" -gt 0 ] || exit 0

# Run swift inside the chroot with the repository bind-mounted at /repo; runs take turns (flock).
exec 9> "$root.lock"
flock 9
$sudo_cmd mkdir -p "$root/repo"
$sudo_cmd mount --bind "$repo" "$root/repo"
$sudo_cmd mount -t proc proc "$root/proc"
cleanup() {
  $sudo_cmd umount "$root/repo" 2> /dev/null || true
  $sudo_cmd umount "$root/proc" 2> /dev/null || true
}
trap cleanup EXIT
$sudo_cmd chroot "$root" /usr/bin/env HOME=/root /bin/sh -c 'cd /repo && exec swift "$@"' swift "$@"
