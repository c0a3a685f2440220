#!/usr/bin/env bash
# Set up, build and run the main demo.  The run is traced (issue 12): the
# trace, a standalone HTML sequence diagram and Chrome/Perfetto JSON are
# written to ${TROUPE_DEMO_TRACE_DIR:-demo-trace}/ next to the summary
# (TROUPE_DEMO_TRACE_DIR=none: no trace).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
[ -d build ] || meson setup build >/dev/null
ninja -C build >/dev/null
dir=${TROUPE_DEMO_TRACE_DIR:-demo-trace}
if [ "$dir" = none ]; then
	exec ./build/examples/demo "$@"
fi
mkdir -p "$dir"
rc=0
TROUPE_TRACE="$dir/demo.trc" ./build/examples/demo "$@" || rc=$?
troupe=./build/tools/troupe
"$troupe" trace export --format html --max 300 -o "$dir/demo.html" "$dir/demo.trc"
"$troupe" trace export --format chrome -o "$dir/demo.json" "$dir/demo.trc"
"$troupe" trace stats "$dir/demo.trc" > "$dir/stats.txt"
echo "trace:            $dir/demo.trc ($(head -1 "$dir/stats.txt"))"
echo "sequence diagram: $dir/demo.html"
echo "Chrome/Perfetto:  $dir/demo.json (open in ui.perfetto.dev)"
echo "statistics:       $dir/stats.txt"
exit $rc
