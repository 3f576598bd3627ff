# shellcheck shell=bash
# Process helpers shared by scripts/pcscd.sh and scripts/ifd.sh (sourced,
# not run).

# alive PID: the process exists and is not a zombie.
alive() {
  local st
  [ -n "$1" ] && [ -r "/proc/$1/stat" ] || return 1
  st=$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
  [ "$st" != Z ] && [ "$st" != X ]
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
