#!/usr/bin/env bash
# The multi-host lab of the netns suite (docs/distribution.md "Multi-host
# suite"): N test "hosts" (network namespaces PREFIXh1..PREFIXhN, address
# 10.77.0.i/24 on their veth "eth0") joined by a bridge br0 in a namespace
# of its own, PREFIXsw, where the test's nftables table (bridge trlab,
# chain xfwd) cuts or thins the traffic between hosts.  Nothing is made in
# the caller's namespace.
#   netns-lab.sh up PREFIX N     make it (undoes a half-made lab on failure)
#   netns-lab.sh down PREFIX     kill, by pid, every process in its hosts
#                                (and remove the runtime directories of the
#                                troupe runs among them), and remove the
#                                namespaces (with them their veths, bridge
#                                and nft table); idempotent
set -u

down() {
  local p=$1 ns pids pid base
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${p}(h[0-9]+|sw)\$"); do
    pids=$(ip netns pids "$ns" 2>/dev/null)
    [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
    ip netns del "$ns" 2>/dev/null
    # a troupe run killed there leaves its runtime directory (its tracker
    # died with it): troupe-PID-XXXXXX in the base the runtime uses
    for pid in $pids; do
      for base in "${TROUPE_RUNTIME_DIR:-}" "${XDG_RUNTIME_DIR:-}" /tmp; do
        [ -n "$base" ] || continue
        for d in "$base/troupe-$pid-"??????; do
          [ -d "$d" ] && rm -rf -- "$d"  # killed above: its run is over
        done
        [ -n "${TROUPE_RUNTIME_DIR:-}" ] && break
      done
    done
  done
  return 0
}

up() {
  local p=$1 n=$2 i
  set -e
  ip netns add "${p}sw"
  ip -n "${p}sw" link set lo up
  ip -n "${p}sw" link add br0 type bridge
  ip -n "${p}sw" link set br0 up
  for i in $(seq 1 "$n"); do
    ip netns add "${p}h$i"
    ip link add eth0 netns "${p}h$i" type veth peer name "p$i" netns "${p}sw"
    ip -n "${p}sw" link set "p$i" master br0 up
    ip -n "${p}h$i" addr add "10.77.0.$i/24" dev eth0
    ip -n "${p}h$i" link set eth0 up
    ip -n "${p}h$i" link set lo up
  done
  ip netns exec "${p}sw" nft add table bridge trlab
  ip netns exec "${p}sw" nft add chain bridge trlab xfwd \
    '{ type filter hook forward priority 0; policy accept; }'
}

case ${1:-} in
  up)   [ $# -eq 3 ] || { echo "usage: $0 up PREFIX N" >&2; exit 2; }
        ( up "$2" "$3" ) || { echo "netns-lab: cannot make the lab" >&2; down "$2"; exit 1; } ;;
  down) [ $# -eq 2 ] || { echo "usage: $0 down PREFIX" >&2; exit 2; }
        down "$2" ;;
  *)    echo "usage: $0 up PREFIX N | down PREFIX" >&2; exit 2 ;;
esac
