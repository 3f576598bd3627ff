# shellcheck shell=bash
# Process and directory helpers shared by scripts/pcscd.sh and
# scripts/ifd.sh (sourced, not run). Both call say and die, which each
# defines.

# alive PID: the process exists and is not a zombie.
alive() {
  local st
  [[ $1 =~ ^[1-9][0-9]{0,9}$ ]] && [ -r "/proc/$1/stat" ] || return 1
  st=$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
  [ "$st" != Z ] && [ "$st" != X ]
}

# pid_start PID: PID's start time (clock ticks after boot, field 22 of
# /proc/PID/stat), which exec keeps and which a process that later gets
# the same pid does not share.
pid_start() {
  local stat f
  alive "$1" || return 1
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  read -r -a f <<<"${stat##*) }"
  [ -n "${f[19]:-}" ] || return 1
  echo "${f[19]}"
}

# record_pid FILE PID: records in FILE the process PID, a pcscd (or the
# systemd-socket-activate that execs one) just started, as "PID START".
record_pid() {
  echo "$2 $(pid_start "$2" || echo exited)" >"$1"
}

# recorded_pcscd FILE: the pid FILE records (record_pid), if that very
# process still runs: alive, with the start time recorded, and named pcscd
# or systemd-socket-activate (which becomes pcscd in place). Prints nothing
# otherwise: the process exited, and its pid may name another process now
# (another pcscd, the machine's say), which a pid alone cannot tell apart.
recorded_pcscd() {
  local pid start
  [ -r "$1" ] || return 0
  read -r pid start _ <"$1" || true
  [ -n "${start:-}" ] && [ "$(pid_start "${pid:-}" || true)" = "$start" ] || return 0
  case "$(cat "/proc/$pid/comm" 2>/dev/null)" in pcscd | systemd-socket-) echo "$pid" ;; esac
}

# stop_pid PID WHAT: stops the process PID (SIGTERM, SIGKILL after 5 s),
# which recorded_pcscd vouched for, and says so. Dies, stopping nothing,
# when this user may not signal it (root's); fails when it outlives
# SIGKILL.
stop_pid() {
  local pid=$1 what=$2 i
  if ! kill -TERM "$pid" 2>/dev/null && alive "$pid"; then
    die "$what (pid $pid) is another user's process, which this user may not stop: nothing stopped; run this as root"
  fi
  for ((i = 0; i < 50; i++)); do alive "$pid" || break; sleep 0.1; done
  if alive "$pid"; then
    say "$what (pid $pid) ignored SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 20; i++)); do alive "$pid" || break; sleep 0.1; done
  fi
  if alive "$pid"; then
    say "$what (pid $pid) still runs after SIGKILL"
    return 1
  fi
  say "stopped $what (pid $pid)"
}

# unix_listening PATH: some process (a pcscd, systemd's pcscd.socket)
# listens on the unix socket PATH, from /proc/net/unix (ss may be absent;
# a path with a space is never found).
unix_listening() {
  awk -v p="$1" '$4 == "00010000" && $8 == p { found = 1 } END { exit !found }' /proc/net/unix 2>/dev/null
}

# check_seconds NAME VALUE: VALUE (of the environment variable NAME) is a
# whole number of seconds, 1 to 3600, before it reaches bash arithmetic,
# which would run a[$(command)] in it.
check_seconds() {
  if ! [[ $2 =~ ^[1-9][0-9]{0,3}$ ]] || [ "$2" -gt 3600 ]; then
    die "$1 '$2': whole seconds, 1 to 3600"
  fi
}

# forget SOCK FILE...: removes the socket SOCK of a pcscd that is gone, and
# FILEs, unless a process listens on SOCK (then it says so and keeps them).
forget() {
  if unix_listening "$1"; then
    say "left $1: a process listens on it"
    return 0
  fi
  rm -f "$@"
}

# detached CMD...: execs CMD in a session of its own with no inherited
# descriptor but 0-2, so that the daemon does not keep a caller's lock (a
# flock around a test run) or pipe open after the caller is gone. Run it in
# the background: the pid is then CMD's.
detached() {
  local fd
  for fd in /proc/self/fd/*; do
    fd=${fd##*/}
    [ "$fd" -gt 2 ] 2>/dev/null && eval "exec $fd>&-" 2>/dev/null
  done
  exec setsid "$@"
}

# root_only DIR...: as root, refuses (dies) unless every existing directory
# on each DIR's path, symlinks resolved, is root's alone: owned by root,
# and writable by nobody else (group root aside), unless sticky (/tmp).
# Otherwise another user could replace or redirect what root writes or
# removes there, the pid files whose processes root stops, and the library a
# pcscd running as root loads. A user staging under DESTDIR writes only
# what it could write anyway.
root_only() {
  [ "$(id -u)" -eq 0 ] || return 0
  local dir p uid gid mode m
  for dir in "$@"; do
    p=$(realpath -m -- "$dir")
    while :; do
      if [ -d "$p" ]; then
        read -r uid gid mode < <(stat -c '%u %g %a' -- "$p")
        m=$((8#$mode))
        if [ "$uid" -ne 0 ]; then
          die "$p: owned by uid $uid, another user, who could replace what root writes under it: make it root's (or use a directory of root's)"
        fi
        if [ $((m & 8#1000)) -eq 0 ] && { [ $((m & 8#002)) -ne 0 ] || { [ $((m & 8#020)) -ne 0 ] && [ "$gid" -ne 0 ]; }; }; then
          die "$p: mode $mode, writable by another user, who could replace what root writes under it: chmod go-w it"
        fi
      fi
      [ "$p" != / ] || break
      p=${p%/*}
      p=${p:-/}
    done
  done
}
