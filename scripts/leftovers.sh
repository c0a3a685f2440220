#!/usr/bin/env bash
# What the test suites leave behind (issue 14).  scripts/test.sh runs
#   eval "$(scripts/leftovers.sh start DIR)"   before the suites: DIR gets
#       the snapshot; prints the exports every test process inherits:
#       TROUPE_LEFTOVER_TOKEN (marks the run's processes: they carry it in
#       their environment), TROUPE_RUNTIME_DIR and TMPDIR (directories of
#       the run's own: every runtime directory the suites make, and every
#       temporary directory the tests make, tr_test_tmpdir(), is in them)
#   scripts/leftovers.sh check DIR             after them: fails, listing
#       each, if a process of the run is still running (it is then
#       killed, by pid), a zombie is left whose parent is ours, anything
#       is left in the run's TROUPE_RUNTIME_DIR or TMPDIR, or /dev/shm or
#       /tmp holds an entry (anything in /dev/shm, a /tmp/troupe-* run
#       directory) that was not there before and stays, unless the pid
#       its name ends with (or, for a run directory, begins with) still
#       runs: that is a live run's.  On a machine shared with other troupe
#       runs the last comparison can still name a crashed run of theirs;
#       CI runs alone.
set -uo pipefail

globals() {  # the entries compared before and after, one a line
  ls -d /dev/shm/* /tmp/troupe-[0-9]* 2>/dev/null | sort
}

# pids whose environment holds the token, less this script's own: its
# ancestors (the shell running the suites) and its descendants (the
# subshells of this very scan)
mine() {  # pid: 0 if $$ is the pid, an ancestor or a descendant of it
  local p=$1
  while [ -n "$p" ] && [ "$p" -gt 1 ]; do
    [ "$p" = "$$" ] && return 0
    p=$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null)
  done
  p=$$
  while [ -n "$p" ] && [ "$p" -gt 1 ]; do
    [ "$p" = "$1" ] && return 0
    p=$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null)
  done
  return 1
}

marked() {
  local token=$1 e pid
  for e in $(grep -laxz "TROUPE_LEFTOVER_TOKEN=$token" /proc/[0-9]*/environ 2>/dev/null); do
    pid=${e#/proc/}; pid=${pid%/environ}
    mine "$pid" || { [ -e "/proc/$pid/stat" ] && echo "$pid"; }
  done
}

case ${1:-} in
start)
  dir=$2
  mkdir -p "$dir"
  token=$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')
  # short: a runtime directory's base must stay under 60 bytes
  base=$(mktemp -d /tmp/trci.XXXXXX) || exit 1
  mkdir "$base/r" "$base/t" || exit 1
  globals >"$dir/before"
  echo "$token" >"$dir/token"
  echo "$base" >"$dir/base"
  echo "export TROUPE_LEFTOVER_TOKEN=$token TROUPE_RUNTIME_DIR=$base/r TMPDIR=$base/t"
  ;;
check)
  dir=$2
  token=$(cat "$dir/token") base=$(cat "$dir/base")
  status=0
  # a process that is just ending gets a moment
  for _ in 1 2 3 4 5; do
    pids=$(marked "$token")
    [ -z "$pids" ] && break
    sleep 1
  done
  for pid in $pids; do
    echo "leftovers: process $pid still running: $({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null)" >&2
    status=1
  done
  for pid in $pids; do kill -KILL "$pid" 2>/dev/null; done
  for s in /proc/[0-9]*/stat; do
    pid=${s#/proc/}; pid=${pid%/stat}
    # a zombie of a process of the run (its comm may hold spaces: the
    # fields after the last ')' are the ones that count)
    { read -r line <"$s"; } 2>/dev/null || continue
    rest=${line##*) }
    state=${rest%% *}; rest=${rest#* }; ppid=${rest%% *}
    [ "$state" = Z ] || continue
    if [[ " $pids " == *" $ppid "* ]] || [ "$ppid" = "$$" ] || [ "$ppid" = "$PPID" ]; then
      echo "leftovers: zombie $pid (parent $ppid)" >&2
      status=1
    fi
  done
  for d in "$base/r" "$base/t"; do
    if [ -n "$(ls -A "$d" 2>/dev/null)" ]; then
      echo "leftovers: left in the run's own ${d##*/} directory $d:" >&2
      ls -la "$d" >&2
      status=1
    fi
  done
  # new entries that stay: a run's directory goes when its creator (the
  # pid in its name) has ended and its tracker has cleaned up, a moment
  # later; one whose creator still runs is a live run, not a leftover
  for _ in 1 2 3 4 5; do
    globals | comm -13 "$dir/before" - | while read -r e; do
      case $e in
      /tmp/troupe-[0-9]*)
        p=${e#/tmp/troupe-}; p=${p%%-*}
        [ -e "/proc/$p" ] || echo "$e" ;;
      *-[0-9]*)
        p=${e##*-}
        [[ $p == *[!0-9]* ]] || [ ! -e "/proc/$p" ] && echo "$e" ;;
      *) echo "$e" ;;
      esac
    done >"$dir/after-new"
    [ -s "$dir/after-new" ] || break
    sleep 1
  done
  if [ -s "$dir/after-new" ]; then
    echo "leftovers: new since the suites began:" >&2
    sed 's/^/  /' "$dir/after-new" >&2
    status=1
  fi
  rm -rf "$base"
  [ $status -eq 0 ] && echo "leftovers: none (no process of the run, no zombie, nothing in /dev/shm, /tmp or the run's own directories)"
  exit $status
  ;;
*)
  echo "usage: $0 start DIR | check DIR" >&2
  exit 2
  ;;
esac
