#!/usr/bin/env bash
# The libFuzzer targets (tests/fuzz, docs/hardening.md), built in
# build-fuzz with clang, AddressSanitizer and UndefinedBehaviorSanitizer.
#   scripts/fuzz.sh             CI: each target for its fixed number of
#                               runs (meson test --suite fuzz)
#   scripts/fuzz.sh long [SEC] [TARGET...]
#                               each target (default: all) for SEC seconds
#                               (default 600), the corpus it grows kept in
#                               build-fuzz/corpus/<target>; crashes as
#                               build-fuzz/crash-*
set -uo pipefail
cd "$(dirname "$0")/.."
dir=build-fuzz
if [ ! -d "$dir" ]; then
  CC=clang meson setup "$dir" -Dwerror=true -Dfuzz=true -Dtests=disabled \
    -Db_sanitize=address,undefined -Db_lundef=false -Djemalloc=disabled \
    -Dc_args=-fno-sanitize-recover=all >/dev/null || exit 1
fi
targets=(envelope addr boot wire pipe mval trace chan)
ninja -C "$dir" $(printf 'tests/fuzz/fuzz-%s ' "${targets[@]}") >/dev/null ||
  { ninja -C "$dir" | tail -40; exit 1; }

if [ "${1:-}" != long ]; then
  exec meson test -C "$dir" --suite fuzz --print-errorlogs --no-rebuild
fi
secs=${2:-600}
[ $# -gt 2 ] && targets=("${@:3}")
status=0
for t in "${targets[@]}"; do
  mkdir -p "$dir/corpus/$t"
  echo "fuzz-$t: $secs s" >&2
  "$dir/tests/fuzz/fuzz-$t" -max_total_time="$secs" -print_final_stats=1 \
    -artifact_prefix="$dir/" "$dir/corpus/$t" "tests/fuzz/corpus/$t" \
    >"$dir/fuzz-$t.log" 2>&1 || { status=1; echo "fuzz-$t: FAILED (see $dir/fuzz-$t.log)" >&2; }
  grep -E '^(Done|stat::(number_of_executed_units|peak_rss_mb|new_units_added))|ERROR|SUMMARY' "$dir/fuzz-$t.log"
done
exit $status
