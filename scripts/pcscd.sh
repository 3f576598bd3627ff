#!/usr/bin/env bash
# Starts, stops and reports pcscd with the vsmartcard vpcd driver, without
# systemd, for Tessera's simulated cards.
#
# Usage: scripts/pcscd.sh start [N] | stop [N] | status [N]
#        scripts/pcscd.sh start-instance K | stop-instance K   (K >= 1)
#
# Instance 0 is the machine's pcscd: socket /run/pcscd/pcscd.comm, readers
# "Virtual PCD 00 00" and "Virtual PCD 00 01" on vpcd ports 35963 and 35964.
# vpcd has 2 slots per pcscd, so more cards need more pcscd: instance k >= 1
# (start N starts instances 0..N-1) gets its own reader.conf.d with vpcd on
# ports 35963+2k and 35964+2k, and its own socket
# $TESSERA_RUN_DIR/pcscd-k/pcscd.comm; a client reaches it with
# PCSCLITE_CSOCK_NAME set to that socket. Card n of `tessera sim` connects to
# port 35963+n, so cards 2 and 3 land in instance 1, and so on.
# start-instance K and stop-instance K act on instance K alone.
#
# PCSCD_READER_NAME sets the reader name (vpcd's FRIENDLYNAME) of the
# instances k >= 1 that this call starts (default "Virtual PCD"; pcscd
# appends " 00 00" and " 00 01"). An instance already running under another
# name is an error, not silently reused.
#
# start installs what is missing (scripts/deps.sh), then for each instance
# uses a pcscd that is already up, or starts one and waits until it is ready
# (socket present, vpcd port listening). It prints one line per instance on
# stdout: "started PID" or "running PID" ("running -" when the pid is not
# known). Only a pcscd this script started is recorded (in
# $TESSERA_RUN_DIR/pcscd-k.pid, its pid and start time) and only that very
# process is ever stopped: a pcscd somebody else started is used and left
# alone, and so is a process that got a recorded pid after its pcscd exited.
# A socket some process listens on (the machine's pcscd, systemd's
# pcscd.socket) is never removed: start refuses to start a pcscd over it.
#
# Run as root, start, stop, start-instance and stop-instance refuse a
# $TESSERA_RUN_DIR on whose path (symlinks resolved) a directory is another
# user's or writable by another user (root_only in scripts/proc.sh): root
# writes its pid files, logs and reader.conf.d there, and stops the
# processes those pid files name.
set -euo pipefail
umask 022
cd "$(dirname "$0")/.."
# shellcheck source=scripts/proc.sh
source scripts/proc.sh

RUN_DIR=${TESSERA_RUN_DIR:-/run/tessera}
BASE_PORT=35963
SYS_DIR=/run/pcscd
SYS_SOCK=$SYS_DIR/pcscd.comm
VPCD_LIB=/usr/lib/pcsc/drivers/serial/libifdvpcd.so
READY_TIMEOUT=${PCSCD_READY_TIMEOUT:-15}
READER_NAME=${PCSCD_READER_NAME:-Virtual PCD}

say() { echo "pcscd.sh: $*" >&2; }
die() { say "$*"; exit 1; }
check_seconds PCSCD_READY_TIMEOUT "$READY_TIMEOUT"

port_of() { echo $((BASE_PORT + 2 * $1)); }
sock_of() { if [ "$1" -eq 0 ]; then echo "$SYS_SOCK"; else echo "$RUN_DIR/pcscd-$1/pcscd.comm"; fi; }
pidfile_of() { echo "$RUN_DIR/pcscd-$1.pid"; }
log_of() { echo "$RUN_DIR/pcscd-$1.log"; }

# listening PORT: something listens on TCP PORT (read from /proc: ss may be absent).
listening() {
  local hex
  hex=$(printf '%04X' "$1")
  grep -qE "^ *[0-9]+: [0-9A-F]+:$hex [0-9A-F]+:0000 0A " /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# is_pcscd PID: alive and running pcscd.
is_pcscd() { alive "$1" && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = pcscd ]; }

ready() { [ -S "$(sock_of "$1")" ] && listening "$(port_of "$1")"; }

# poke K: connect a client to instance K's socket, which starts a
# socket-activated pcscd.
poke() {
  PCSCLITE_CSOCK_NAME=$(sock_of "$1") timeout 5 opensc-tool -l >/dev/null 2>&1 || true
}

# pid_of K: the pid of instance K's pcscd, if known.
pid_of() {
  local pf pid
  pf=$(pidfile_of "$1")
  pid=$(recorded_pcscd "$pf")
  [ -z "$pid" ] || { echo "$pid"; return; }
  if [ "$1" -eq 0 ] && [ -r "$SYS_DIR/pcscd.pid" ]; then
    pid=$(cat "$SYS_DIR/pcscd.pid")
    is_pcscd "$pid" && { echo "$pid"; return; }
  fi
  echo -
}

wait_ready() { # K PID
  local i
  for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
    ready "$1" && return 0
    if ! alive "$2"; then
      say "pcscd instance $1 (pid $2) exited during start-up; its log ($(log_of "$1")):"
      tail -20 "$(log_of "$1")" >&2 || true
      return 1
    fi
    [ "$1" -ne 0 ] && [ $((i % 10)) -eq 5 ] && poke "$1"
    sleep 0.1
  done
  say "pcscd instance $1 (pid $2) not ready after ${READY_TIMEOUT}s: socket $(sock_of "$1"), port $(port_of "$1"); log $(log_of "$1")"
  return 1
}

# check_name K: instance K (k >= 1) runs under READER_NAME.
check_name() {
  local conf have
  [ "$1" -ge 1 ] || return 0
  conf=$RUN_DIR/pcscd-$1/reader.conf.d/vpcd
  have=$(sed -n 's/^FRIENDLYNAME "\(.*\)"$/\1/p' "$conf" 2>/dev/null || true)
  [ -z "$have" ] || [ "$have" = "$READER_NAME" ] ||
    die "pcscd instance $1 runs with reader name \"$have\", not \"$READER_NAME\": stop it first (scripts/pcscd.sh stop-instance $1)"
}

start_one() { # K
  local k=$1 sock port pid dir
  sock=$(sock_of "$k")
  port=$(port_of "$k")
  if ready "$k"; then
    check_name "$k"
    echo "running $(pid_of "$k")"
    return 0
  fi
  if [ -S "$sock" ]; then
    poke "$k" # a socket-activated pcscd (systemd) starts on first use
    for _ in 1 2 3 4 5 6 7 8 9 10; do ready "$k" && break; sleep 0.1; done
    if ready "$k"; then
      check_name "$k"
      echo "running $(pid_of "$k")"
      return 0
    fi
  fi
  if listening "$port"; then
    die "port $port is taken, but not by a pcscd on $sock: free it, or point tessera sim --vpcd elsewhere"
  fi
  [ "$(id -u)" -eq 0 ] || die "pcscd is not running and only root can start it: run as root (or start pcscd with the vsmartcard-vpcd driver yourself)"
  mkdir -p "$RUN_DIR"
  pid=$(pid_of "$k")
  if [ "$pid" != - ]; then
    [ "$k" -eq 0 ] && die "pcscd (pid $pid) is running without the vpcd driver (was vsmartcard-vpcd installed after it started?): stop it, then run this again"
    die "pcscd instance $k (pid $pid), which this script started, is not ready (socket $sock, port $port; log $(log_of "$k")): stop it first (scripts/pcscd.sh stop-instance $k)"
  fi
  if unix_listening "$sock"; then
    die "$sock: a process listens on it (the machine's pcscd or systemd's pcscd.socket, for instance 0), but no vpcd reader answers on port $port: this script replaces no pcscd it did not start; give that pcscd the vpcd driver (install vsmartcard-vpcd, restart it), or stop it"
  fi
  if [ "$k" -eq 0 ]; then
    # A stale pid file or socket from a killed pcscd blocks start-up.
    rm -f "$SYS_SOCK" "$SYS_DIR/pcscd.pid"
    detached pcscd --foreground >"$(log_of 0)" 2>&1 </dev/null &
    pid=$!
  else
    command -v systemd-socket-activate >/dev/null 2>&1 ||
      die "extra pcscd instances need systemd-socket-activate (Debian package systemd)"
    dir=$RUN_DIR/pcscd-$k
    mkdir -p "$dir/reader.conf.d"
    printf 'FRIENDLYNAME "%s"\nDEVICENAME   /dev/null:0x%X\nLIBPATH      %s\nCHANNELID    0x%X\n' \
      "$READER_NAME" "$port" "$VPCD_LIB" "$port" >"$dir/reader.conf.d/vpcd"
    rm -f "$sock"
    # pcscd refuses a second instance next to /run/pcscd/pcscd.comm unless
    # it is socket-activated; systemd-socket-activate execs pcscd in place
    # (same pid) at the first connection, which poke makes.
    PCSCLITE_CSOCK_NAME=$sock detached systemd-socket-activate -l "$sock" \
      pcscd --foreground -c "$dir/reader.conf.d" >"$(log_of "$k")" 2>&1 </dev/null &
    pid=$!
    for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
    poke "$k"
  fi
  record_pid "$(pidfile_of "$k")" "$pid"
  if ! wait_ready "$k" "$pid"; then
    stop_one "$k" >/dev/null 2>&1 || true
    exit 1
  fi
  local name=$READER_NAME
  [ "$k" -eq 0 ] && name="Virtual PCD"
  say "started pcscd instance $k (pid $pid): socket $sock, readers \"$name 00 00\" and \"$name 00 01\" on vpcd ports $port and $((port + 1)); log $(log_of "$k")"
  echo "started $pid"
}

stop_one() { # K
  local k=$1 pf pid
  pf=$(pidfile_of "$k")
  if [ ! -e "$pf" ]; then
    say "instance $k: no pcscd started by this script; nothing stopped"
    return 0
  fi
  pid=$(recorded_pcscd "$pf")
  if [ -n "$pid" ]; then
    stop_pid "$pid" "pcscd instance $k" || return 1
  else
    say "instance $k: the pcscd recorded in $pf ($(head -c 40 "$pf" | tr -d '\n')) is not running any more (its pid may name another process now); nothing stopped"
  fi
  rm -f "$pf"
  if [ "$k" -eq 0 ]; then
    listening "$(port_of 0)" || forget "$SYS_SOCK" "$SYS_DIR/pcscd.pid"
  else
    forget "$(sock_of "$k")"
  fi
}

status_one() { # K
  local k=$1 by=somebody-else
  [ -r "$(pidfile_of "$k")" ] && by=this-script
  if ready "$k"; then
    echo "instance $k: ready, pid $(pid_of "$k") (started by $by), socket $(sock_of "$k"), vpcd ports $(port_of "$k") and $(($(port_of "$k") + 1))"
  else
    echo "instance $k: not running (socket $(sock_of "$k"), port $(port_of "$k"))"
    return 1
  fi
}

cmd=${1:-}
n=${2:-1}
if ! [[ "$n" =~ ^[1-9][0-9]*$ ]] || [ "$n" -gt 64 ]; then
  die "instance count '$n': want 1 to 64"
fi
[[ "$READER_NAME" =~ ^[A-Za-z0-9][A-Za-z0-9\ +._-]*$ ]] || die "reader name '$READER_NAME': letters, digits, spaces and +._- only"
case "$cmd" in start | stop | start-instance | stop-instance) root_only "$RUN_DIR" ;; esac
case "$cmd" in
  start-instance | stop-instance)
    if [ $# -ne 2 ] || [ "$n" -ge 64 ]; then
      die "usage: scripts/pcscd.sh $cmd K, with 1 <= K < 64"
    fi
    if [ "$cmd" = start-instance ]; then
      bash scripts/deps.sh
      start_one "$n"
    else
      stop_one "$n"
    fi
    ;;
  start)
    bash scripts/deps.sh
    for ((k = 0; k < n; k++)); do start_one "$k"; done
    ;;
  stop)
    # stop N: instances 0..N-1; stop: every instance this script started.
    if [ $# -ge 2 ]; then
      for ((k = 0; k < n; k++)); do stop_one "$k"; done
    else
      shopt -s nullglob
      stopped=0
      for pf in "$RUN_DIR"/pcscd-*.pid; do
        k=${pf##*/pcscd-}
        k=${k%.pid}
        stop_one "$k"
        stopped=1
      done
      [ "$stopped" -eq 1 ] || say "no pcscd started by this script; nothing stopped"
    fi
    ;;
  status)
    rc=0
    for ((k = 0; k < n; k++)); do status_one "$k" || rc=1; done
    exit $rc
    ;;
  *)
    die "usage: scripts/pcscd.sh start [N] | stop [N] | status [N] | start-instance K | stop-instance K"
    ;;
esac
