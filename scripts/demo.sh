#!/usr/bin/env bash
# Set up, build and run the main demo.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null
exec ./build/examples/demo "$@"
