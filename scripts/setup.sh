#!/usr/bin/env bash
# Install the Debian packages troupe needs, if any are missing.  Idempotent:
# does nothing (and needs no root) when everything is there.
set -euo pipefail

pkgs=(build-essential pkg-config meson ninja-build
      libzmq3-dev libprotobuf-c-dev protobuf-c-compiler libjemalloc-dev libcmocka-dev
      python3 python3-zmq python3-protobuf erlang-base valgrind
      clang-format cppcheck clang libclang-rt-dev
      nftables iproute2  # the netns suite (tests/netns): its lab and its cuts
      chromium)  # renders the trace tool's HTML/SVG diagrams in test-trace

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "troupe setup: installing ${missing[*]}" >&2
if [ "$(id -u)" -eq 0 ]; then
  sudo=()
elif command -v sudo >/dev/null 2>&1; then
  sudo=(sudo)
else
  echo "troupe setup: missing packages (${missing[*]}) and not root, no sudo: install them with apt-get as root" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "troupe setup: no apt-get here; install the equivalents of: ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >/dev/null || { echo "troupe setup: apt-get update failed (no network to the Debian mirror?)" >&2; exit 1; }
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
  { echo "troupe setup: apt-get install ${missing[*]} failed" >&2; exit 1; }
