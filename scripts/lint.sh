#!/usr/bin/env bash
# Static analysis and style (issue 14): clang-format --dry-run -Werror over
# every committed C source and header, then cppcheck over what the build in
# $1 (default: build) compiles, with the checked-in suppressions
# (scripts/cppcheck.supp: false positives only, each with its reason).
# Exits non-zero on any finding.
set -uo pipefail
cd "$(dirname "$0")/.."
builddir=${1:-build}
status=0

mapfile -t files < <(git ls-files '*.c' '*.h' 2>/dev/null || find include runtime actors tools examples tests -name '*.[ch]')
if ! clang-format --dry-run -Werror "${files[@]}"; then
  echo "lint: clang-format finds the files above misformatted (run clang-format -i on them)" >&2
  status=1
fi

if [ ! -f "$builddir/compile_commands.json" ]; then
  echo "lint: no $builddir/compile_commands.json (meson setup $builddir first)" >&2
  exit 1
fi
# -i: the protoc-c output in the build dir is not ours; its headers are
# still read for the declarations they give.
if ! cppcheck --project="$builddir/compile_commands.json" -i"$builddir" \
    --enable=warning,portability,performance --inline-suppr --quiet \
    -j2 --error-exitcode=1 --suppress=missingIncludeSystem \
    --suppressions-list=scripts/cppcheck.supp; then
  echo "lint: cppcheck findings above (fix them; suppress only a false positive, with its reason, in scripts/cppcheck.supp or inline)" >&2
  status=1
fi
exit $status
