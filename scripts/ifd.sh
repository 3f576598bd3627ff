#!/usr/bin/env bash
# Starts, stops and reports a private pcscd that loads Tessera's own reader
# driver (the IFD bridge, docs/ifd-bridge.md) for `tessera sim --bridge ifd`.
#
# Usage: scripts/ifd.sh start [NAME...] | stop | status
#
# start writes a reader.conf with one reader per NAME (default one,
# "Tessera IFD 0"): FRIENDLYNAME NAME, DEVICENAME the socket of card k,
# $TESSERA_RUN_DIR/ifd/card-k.sock (where tessera sim --bridge ifd serves
# card k), LIBPATH the driver `make ifd` builds (bin/libifdtessera.so), and
# starts a pcscd of its own on that configuration and on its own socket,
# $TESSERA_RUN_DIR/ifd-pcscd/pcscd.comm: a client reaches it with
# PCSCLITE_CSOCK_NAME set to that socket, and sees card k's reader as
# "NAME KK 00" (k in two hex digits: "NAME 00 00", "NAME 01 00", ...).
# It never touches /etc/reader.conf.d, the machine's pcscd or the vpcd
# instances of scripts/pcscd.sh. At most 16 names (one pcscd's readers).
#
# start prints "started PID" or, when the same readers already run,
# "running PID". Only the pcscd it started is recorded
# ($TESSERA_RUN_DIR/ifd-pcscd.pid), and stop stops only that one.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/proc.sh
source scripts/proc.sh

RUN_DIR=${TESSERA_RUN_DIR:-/run/tessera}
DIR=$RUN_DIR/ifd-pcscd
SOCK=$DIR/pcscd.comm
CONF_DIR=$DIR/reader.conf.d
CONF=$CONF_DIR/tessera
PIDFILE=$RUN_DIR/ifd-pcscd.pid
LOG=$RUN_DIR/ifd-pcscd.log
CARD_DIR=$RUN_DIR/ifd
LIB=$PWD/bin/libifdtessera.so
READY_TIMEOUT=${PCSCD_READY_TIMEOUT:-15}

say() { echo "ifd.sh: $*" >&2; }
die() { say "$*"; exit 1; }

# ours PID: alive, and pcscd or the systemd-socket-activate that becomes it.
ours() {
  alive "$1" || return 1
  case "$(cat "/proc/$1/comm" 2>/dev/null)" in pcscd | systemd-socket-) return 0 ;; esac
  return 1
}

recorded_pid() { if [ -r "$PIDFILE" ]; then cat "$PIDFILE"; fi; }

# readers: pcscd answers on SOCK with the readers listed.
readers() { PCSCLITE_CSOCK_NAME=$SOCK timeout 5 opensc-tool -l 2>/dev/null || true; }

conf_for() { # NAME...
  local k=0 name
  for name in "$@"; do
    # pcscd checks that the part of DEVICENAME before the colon exists
    # when it starts; the driver takes the socket after it.
    printf 'FRIENDLYNAME "%s"\nDEVICENAME   /dev/null:%s\nLIBPATH      %s\nCHANNELID    %d\n\n' \
      "$name" "$CARD_DIR/card-$k.sock" "$LIB" "$k"
    k=$((k + 1))
  done
}

start() {
  [ $# -gt 0 ] || set -- "Tessera IFD 0"
  [ $# -le 16 ] || die "$# readers: one pcscd has at most 16"
  local name pid want i
  for name in "$@"; do
    if ! [[ "$name" =~ ^[A-Za-z0-9][A-Za-z0-9\ +._-]*$ ]] || [ ${#name} -gt 64 ]; then
      die "reader name '$name': letters, digits, spaces and +._- only, at most 64"
    fi
  done
  want=$(conf_for "$@")
  pid=$(recorded_pid)
  if [ -n "$pid" ] && ours "$pid"; then
    [ "$(cat "$CONF" 2>/dev/null)" = "$want" ] ||
      die "the IFD pcscd (pid $pid) runs with other readers ($CONF): stop it first (scripts/ifd.sh stop)"
    echo "running $pid"
    return 0
  fi
  [ "$(id -u)" -eq 0 ] || die "only root can start pcscd here: run as root"
  command -v systemd-socket-activate >/dev/null 2>&1 ||
    die "a private pcscd needs systemd-socket-activate (Debian package systemd)"
  make -s ifd >&2
  mkdir -p "$CONF_DIR" "$CARD_DIR"
  chmod 0700 "$CARD_DIR"
  printf '%s\n' "$want" >"$CONF"
  rm -f "$SOCK" "$PIDFILE"
  # pcscd refuses to start beside the machine's pcscd unless it is
  # socket-activated: systemd-socket-activate execs it in place (same pid)
  # at the first connection.
  PCSCLITE_CSOCK_NAME=$SOCK detached systemd-socket-activate -l "$SOCK" \
    pcscd --foreground -c "$CONF_DIR" >"$LOG" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$PIDFILE"
  for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
    if ! alive "$pid"; then
      say "pcscd (pid $pid) exited during start-up; its log ($LOG):"
      tail -20 "$LOG" >&2 || true
      rm -f "$PIDFILE"
      exit 1
    fi
    if [ -S "$SOCK" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = pcscd ] && readers | grep -qF "$1 00 00"; then
      say "started pcscd (pid $pid) with $# IFD reader(s): socket $SOCK, config $CONF, log $LOG"
      echo "started $pid"
      return 0
    fi
    [ -S "$SOCK" ] && [ $((i % 10)) -eq 0 ] && readers >/dev/null # the first connection starts pcscd
    sleep 0.1
  done
  say "pcscd (pid $pid) not ready after ${READY_TIMEOUT}s; log $LOG"
  stop
  exit 1
}

stop() {
  local pid i
  pid=$(recorded_pid)
  if [ -z "$pid" ]; then
    say "no IFD pcscd started by this script; nothing stopped"
    return 0
  fi
  if ours "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then
      say "pcscd (pid $pid) ignored SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    say "stopped the IFD pcscd (pid $pid)"
  else
    say "the IFD pcscd (pid $pid) had already exited"
  fi
  rm -f "$PIDFILE" "$SOCK"
}

status() {
  local pid
  pid=$(recorded_pid)
  if [ -n "$pid" ] && ours "$pid"; then
    echo "IFD pcscd: running, pid $pid, socket $SOCK (PCSCLITE_CSOCK_NAME), config $CONF"
    local k=0 name
    while IFS= read -r name; do
      printf '  reader "%s %02X 00"\n' "$name" "$k"
      k=$((k + 1))
    done < <(sed -n 's/^FRIENDLYNAME "\(.*\)"$/\1/p' "$CONF")
  else
    echo "IFD pcscd: not running (socket $SOCK)"
    return 1
  fi
}

case "${1:-}" in
  start)
    shift
    bash scripts/deps.sh
    start "$@"
    ;;
  stop) stop ;;
  status) status ;;
  *) die "usage: scripts/ifd.sh start [NAME...] | stop | status" ;;
esac
