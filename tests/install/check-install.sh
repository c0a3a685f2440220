#!/bin/sh
# meson install puts the library, headers, troupe.pc and the troupe command
# in place, and another meson project builds and runs an actor with
# dependency('troupe').  Args: BUILD_DIR.  Everything goes to a temp dir.
set -eu
build=$1
tmp=$(mktemp -d /tmp/tr-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

meson install -C "$build" --destdir "$tmp/root" --no-rebuild --quiet >/dev/null
pc=$(find "$tmp/root" -name troupe.pc | head -n 1)
[ -n "$pc" ] || { echo "no troupe.pc installed"; exit 1; }
tool=$(find "$tmp/root" -path '*/bin/troupe' | head -n 1)
[ -x "$tool" ] || { echo "no troupe command installed"; exit 1; }
inc=$(find "$tmp/root" -path '*/include/troupe.h' | head -n 1)
[ -n "$inc" ] || { echo "no troupe.h installed"; exit 1; }
libdir=$(dirname "$(find "$tmp/root" -name 'libtroupe.so' | head -n 1)")

mkdir -p "$tmp/app"
cat >"$tmp/app/meson.build" <<'MESON'
project('app', 'c', default_options: ['c_std=c11'])
executable('app', 'app.c', dependencies: dependency('troupe'))
MESON
cat >"$tmp/app/app.c" <<'C'
#include <stdio.h>
#include "troupe.h"
static int hello(const void *args, size_t len)
{
	printf("hello %s\n", (const char *) args);
	return 7;
}
TR_ACTOR(hello, hello)
int main(int argc, char **argv)
{
	tr_process *p;
	int code = -1;

	if (tr_init(argc, argv) < 0 || tr_process_new(&p, "hello", "app", 3) < 0 ||
	    tr_process_start(p, 5000) < 0 || tr_process_join(p, 5000) < 0 ||
	    tr_process_exitcode(p, &code) < 0)
		return 1;
	tr_process_destroy(&p);
	return code == 7 ? 0 : 2;
}
C
PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR="$tmp/root" \
	meson setup "$tmp/app/build" "$tmp/app" >"$tmp/setup.log" 2>&1 ||
	{ cat "$tmp/setup.log"; exit 1; }
ninja -C "$tmp/app/build" >"$tmp/ninja.log" 2>&1 || { cat "$tmp/ninja.log"; exit 1; }
out=$(LD_LIBRARY_PATH="$libdir" "$tmp/app/build/app")
[ "$out" = "hello app" ] || { echo "unexpected output: $out"; exit 1; }
LD_LIBRARY_PATH="$libdir" "$tool" --version | grep -q '^troupe ' ||
	{ echo "installed troupe command does not run"; exit 1; }
echo "install ok: $(basename "$pc"), $(basename "$tool"), app built with dependency('troupe') ran"
