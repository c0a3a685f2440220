#!/usr/bin/env bash
# Set up, build, lint (scripts/lint.sh) and run every test suite: once in the
# normal build (jemalloc, -Werror) and once with AddressSanitizer +
# UndefinedBehaviorSanitizer; then the fuzz targets (scripts/fuzz.sh) and the
# check that nothing was left behind (scripts/leftovers.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh || exit 1

status=0
build() {  # dir, extra meson options...
  local dir=$1; shift
  if [ ! -d "$dir" ]; then
    meson setup "$dir" -Dwerror=true "$@" >/dev/null || return 1
  fi
  ninja -C "$dir" >/dev/null || { ninja -C "$dir" | tail -40; return 1; }
}

build build || exit 1
# what the suites leave behind (processes, zombies, /dev/shm, runtime
# directories) is compared with what was there before: scripts/leftovers.sh
eval "$(./scripts/leftovers.sh start build/leftovers)" || exit 1
# static analysis and style (scripts/lint.sh: clang-format, cppcheck)
./scripts/lint.sh build || status=1
meson test -C build --print-errorlogs --num-processes 2 || status=1

build build-san -Db_sanitize=address,undefined -Db_lundef=false -Djemalloc=disabled -Dfault_injection=true \
  -Dc_args=-fno-sanitize-recover=all || exit 1
# GCC 12's sanitizer allocator takes no locks around fork(): a child forked
# while another thread of the parent (a ZeroMQ I/O thread) holds one of its
# mutexes deadlocks.  jemalloc and glibc malloc are fork-safe, so the normal
# build tests fork; here children default to the single-threaded forkserver.
TROUPE_START_METHOD=forkserver ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0 \
  meson test -C build-san --print-errorlogs --num-processes 2 --no-suite bench || status=1
# the libFuzzer targets, a fixed number of runs each (scripts/fuzz.sh)
./scripts/fuzz.sh || status=1
./scripts/leftovers.sh check build/leftovers || status=1
exit $status
