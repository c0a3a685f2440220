#!/bin/sh
# run-fuzz.sh TARGET SEEDS RUNS [libFuzzer options...]: run a libFuzzer
# target over RUNS inputs, starting from the seed corpus SEEDS (read only:
# what it finds goes to a temporary directory, removed after).  A crash
# leaves its input as crash-* in $FUZZ_ARTIFACTS (default: the current
# directory) and fails.
exe=$1 seeds=$2 runs=$3
shift 3
work=$(mktemp -d "${TMPDIR:-/tmp}/troupe-fuzz.XXXXXX") || exit 99
trap 'rm -rf "$work"' EXIT INT TERM
"$exe" -runs="$runs" -seed=1 -print_final_stats=1 \
  -artifact_prefix="${FUZZ_ARTIFACTS:-$PWD}/" "$@" "$work" "$seeds"
