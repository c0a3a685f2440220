#!/usr/bin/env bash
# Run the netns suite's test program ($1) in a lab of its own
# (netns-lab.sh), removed at the end whatever happens (trap).  Skipped
# (exit 77, meson's "skip") with a clear message where network namespaces
# cannot be made: not root, no ip or nft, or `ip netns add` not permitted.
set -u
here=$(cd "$(dirname "$0")" && pwd)
skip() { echo "netns suite SKIPPED: $*"; exit 77; }

[ $# -ge 1 ] || { echo "usage: $0 TEST-PROGRAM [ARGS...]" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || skip "needs root for ip netns (uid $(id -u))"
command -v ip >/dev/null || skip "no ip (iproute2)"
command -v nft >/dev/null || skip "no nft (nftables; scripts/setup.sh installs it)"
prefix="tr$$"
ip netns add "${prefix}probe" 2>/dev/null || skip "ip netns add is not permitted here"
ip netns del "${prefix}probe"

child=
trap '"$here/netns-lab.sh" down "$prefix"' EXIT
# a signal (meson's timeout) ends the test program by pid, then the EXIT
# trap removes the lab; the program runs in the background so that the
# shell takes the signal at once, not when the program is done
for sig in TERM INT HUP; do
  trap '[ -n "$child" ] && kill -TERM "$child" 2>/dev/null; exit 143' "$sig"
done
"$here/netns-lab.sh" up "$prefix" 3 || exit 1
TR_NETNS_PREFIX=$prefix "$@" &
child=$!
wait "$child"
