#!/usr/bin/env bash
# The chaos suite, long form (docs/hardening.md, "Chaos"): a mixed workload
# -- a supervision tree of Queue producers and consumers, Lock users,
# sleepers on an Event and Manager clients, plus a Pool -- while random
# actors are SIGKILLed, then the checks (tests/fault/test-chaos.c).
#   scripts/chaos.sh [--seconds N] [--rate R] [--seed S] [--methods M,...]
#                    [--build DIR]
# --seconds: chaos time per start method (default 120); --rate: kills per
# second (default 20); --seed: the random seed (default: the driver's pid,
# printed); --methods: fork,spawn,forkserver (default all three).  Prints a
# summary table per start method; exits non-zero, saying which check
# failed, if any did.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=120 rate=20 seed= methods=fork,spawn,forkserver build=build
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --rate) rate=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --methods) methods=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "chaos.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case $seconds$rate in *[!0-9]*|'') echo "chaos.sh: --seconds and --rate take whole numbers" >&2; exit 2 ;; esac
if [ ! -d "$build" ]; then
  meson setup "$build" -Dwerror=true >/dev/null
fi
ninja -C "$build" tests/test-chaos >/dev/null
export TR_TEST_BUILD_ROOT=$PWD/$build TR_TEST_SOURCE_ROOT=$PWD
CHAOS_SECONDS=$seconds CHAOS_RATE=$rate CHAOS_SEED=$seed CHAOS_METHODS=$methods \
  "$build/tests/test-chaos"
