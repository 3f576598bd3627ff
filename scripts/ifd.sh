#!/usr/bin/env bash
# Starts, stops and reports a private pcscd that loads Tessera's own reader
# driver (the IFD bridge, docs/ifd-bridge.md) for `tessera sim --bridge ifd`,
# or installs the driver into the machine's own pcscd.
#
# Usage: scripts/ifd.sh start [NAME...] | start --conf FILE | stop | status
#        scripts/ifd.sh install NAME... | uninstall
#
# start writes a reader.conf with one reader per NAME (default one,
# "Tessera IFD 0"): FRIENDLYNAME NAME, DEVICENAME the socket of card k,
# $TESSERA_RUN_DIR/ifd/card-k.sock (where tessera sim --bridge ifd serves
# card k), LIBPATH the driver `make ifd` builds (bin/libifdtessera.so), and
# starts a pcscd of its own on that configuration and on its own socket,
# $TESSERA_RUN_DIR/ifd-pcscd/pcscd.comm: a client reaches it with
# PCSCLITE_CSOCK_NAME set to that socket, and sees card k's reader as
# "NAME KK 00" (k in two hex digits: "NAME 00 00", "NAME 01 00", ...).
# start --conf FILE does the same with FILE as the reader.conf (an
# installed one, say). start never touches /etc/reader.conf.d, the
# machine's pcscd or the vpcd instances of scripts/pcscd.sh. At most 16
# names (one pcscd's readers). It refuses a $TESSERA_RUN_DIR another user
# owns or may write (root_only): root writes its files there.
#
# start prints "started PID" or, when the same readers already run,
# "running PID". Only the pcscd it started is recorded
# ($TESSERA_RUN_DIR/ifd-pcscd.pid, its pid and start time), and stop stops
# only that very process (not one that got its pid after it exited).
# Neither start nor stop removes a socket another process listens on.
#
# install (root) makes the machine's pcscd, the one every desktop client
# talks to without PCSCLITE_CSOCK_NAME, load the driver: it builds it and
# writes three files, each replaced by a rename (a running pcscd keeps the
# library it mapped):
#   /usr/local/lib/tessera/libifdtessera.so, mode 0644: a library built on
#     this machine and in no package goes under /usr/local (FHS), in a
#     directory of Tessera's own; not in pcscd's drivers directory, which
#     belongs to the distribution's packages and holds USB bundles;
#   /etc/reader.conf.d/tessera-ifd, mode 0644: one entry per NAME as start
#     writes them, LIBPATH the library above, the sockets in
#     $TESSERA_RUN_DIR/ifd (default /run/tessera/ifd), where
#     `tessera sim --bridge ifd` serves its cards by default. Its first
#     line is install's marker;
#   /usr/lib/tmpfiles.d/tessera-ifd.conf, mode 0644: that socket directory,
#     root:GROUP mode 3770 (GROUP is $TESSERA_IFD_GROUP, default tessera),
#     which systemd-tmpfiles creates at every boot (/run is emptied): a
#     simulator run by a user in GROUP can serve its cards there without
#     root; nobody else can write in it (no world bit), the setgid bit
#     gives the sockets that group, and the sticky bit keeps each socket
#     its owner's: no member removes another's to pose as that member's
#     card. Its first line is install's marker too.
# Outside DESTDIR install also makes the directory now: it adds GROUP if
# the machine has no such group (groupadd --system), then runs
# systemd-tmpfiles --create on the file, or, on a machine without
# systemd-tmpfiles, creates the directory itself (and says that a reboot
# empties /run: install again after one). It prints the socket directory
# and how a user gets into GROUP.
# install refuses to replace a reader.conf.d or tmpfiles.d file without its
# marker, or a library that is not Tessera's driver. uninstall removes
# exactly those three files (and the library's directory when empty), each
# only if it is install's; nothing installed is not an error. It leaves the
# socket directory (a running simulator may serve in it; /run is emptied at
# boot) and the group (users may be in it). Neither restarts or stops any
# pcscd: pcscd reads reader.conf.d only when it starts, and both say how to
# restart the machine's. Run as root, both refuse a directory on the way
# to their files (symlinks resolved, DESTDIR included) that another user
# owns or may write (sticky ones aside): see root_only.
#
# DESTDIR, when set, prefixes every path install and uninstall write or
# remove (the files' contents name the final paths): a packager's staging
# directory, which needs no root; the machine's pcscd is then not
# concerned.
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
check_seconds PCSCD_READY_TIMEOUT "$READY_TIMEOUT"

# recorded_pid: the pcscd this script started, if it still runs.
recorded_pid() { recorded_pcscd "$PIDFILE"; }

# readers: pcscd answers on SOCK with the readers listed.
readers() { PCSCLITE_CSOCK_NAME=$SOCK timeout 5 opensc-tool -l 2>/dev/null || true; }

# Where install puts the driver, its reader.conf.d entry and the
# tmpfiles.d entry of the socket directory (under DESTDIR).
INSTALL_LIB_DIR=/usr/local/lib/tessera
INSTALL_LIB=$INSTALL_LIB_DIR/libifdtessera.so
INSTALL_CONF=/etc/reader.conf.d/tessera-ifd
INSTALL_TMPFILES=/usr/lib/tmpfiles.d/tessera-ifd.conf
# The first line of every reader.conf.d file install writes, and of its
# tmpfiles.d file.
MARKER="# Tessera IFD bridge readers: written by scripts/ifd.sh install, removed by scripts/ifd.sh uninstall."
TMPFILES_MARKER="# Tessera IFD bridge socket directory: written by scripts/ifd.sh install, removed by scripts/ifd.sh uninstall."
# The group that may serve cards in the socket directory, and the
# directory's mode: group-writable, setgid, sticky, no world bits.
IFD_GROUP=${TESSERA_IFD_GROUP:-tessera}
IFD_DIR_MODE=3770
# A message of the driver's (ifd/ifdhandler.c), in no other library: how
# install and uninstall know the library at INSTALL_LIB is Tessera's.
LIB_MARK="tessera: DEVICENAME must be a unix socket path shorter than"
# The machine's pcscd answers on this socket (pcsc-lite's default).
SYS_SOCK=/run/pcscd/pcscd.comm

# check_names NAME...: what start and install accept as reader names.
check_names() {
  [ $# -le 16 ] || die "$# readers: one pcscd has at most 16"
  local name
  for name in "$@"; do
    if ! [[ "$name" =~ ^[A-Za-z0-9][A-Za-z0-9\ +._-]*$ ]] || [ ${#name} -gt 64 ]; then
      die "reader name '$name': letters, digits, spaces and +._- only, at most 64"
    fi
  done
}

conf_for() { # LIBPATH NAME...
  local lib=$1 k=0 name
  shift
  for name in "$@"; do
    # pcscd checks that the part of DEVICENAME before the colon exists
    # when it starts; the driver takes the socket after it.
    printf 'FRIENDLYNAME "%s"\nDEVICENAME   /dev/null:%s\nLIBPATH      %s\nCHANNELID    %d\n\n' \
      "$name" "$CARD_DIR/card-$k.sock" "$lib" "$k"
    k=$((k + 1))
  done
}

# conf_names FILE: the FRIENDLYNAMEs of a reader.conf, one a line.
conf_names() { sed -n 's/^FRIENDLYNAME "\(.*\)"$/\1/p' "$1"; }

start() {
  local want first n pid i
  if [ "${1:-}" = --conf ]; then
    [ $# -eq 2 ] || die "usage: scripts/ifd.sh start --conf FILE"
    [ -r "$2" ] || die "reader.conf $2: not readable"
    want=$(cat "$2")
    first=$(conf_names "$2" | head -1)
    n=$(conf_names "$2" | wc -l)
    [ "$n" -gt 0 ] || die "reader.conf $2: no FRIENDLYNAME entry"
    [ "$n" -le 16 ] || die "reader.conf $2: $n readers: one pcscd has at most 16"
  else
    [ $# -gt 0 ] || set -- "Tessera IFD 0"
    check_names "$@"
    want=$(conf_for "$LIB" "$@")
    first=$1 n=$#
  fi
  pid=$(recorded_pid)
  if [ -n "$pid" ]; then
    [ "$(cat "$CONF" 2>/dev/null)" = "$want" ] ||
      die "the IFD pcscd (pid $pid) runs with other readers ($CONF): stop it first (scripts/ifd.sh stop)"
    echo "running $pid"
    return 0
  fi
  [ "$(id -u)" -eq 0 ] || die "only root can start pcscd here: run as root"
  # root writes its configuration, pid file and log there.
  root_only "$RUN_DIR"
  command -v systemd-socket-activate >/dev/null 2>&1 ||
    die "a private pcscd needs systemd-socket-activate (Debian package systemd)"
  if unix_listening "$SOCK"; then
    die "$SOCK: a process listens on it, not the pcscd this script recorded: this script replaces no pcscd it did not start; stop that process first"
  fi
  make -s ifd >&2
  mkdir -p "$CONF_DIR"
  # A directory install made (group-writable, for a simulator not run by
  # root) keeps its mode.
  [ -d "$CARD_DIR" ] || install -d -m 0700 "$CARD_DIR"
  printf '%s\n' "$want" >"$CONF"
  rm -f "$SOCK" "$PIDFILE"
  # pcscd refuses to start beside the machine's pcscd unless it is
  # socket-activated: systemd-socket-activate execs it in place (same pid)
  # at the first connection.
  PCSCLITE_CSOCK_NAME=$SOCK detached systemd-socket-activate -l "$SOCK" \
    pcscd --foreground -c "$CONF_DIR" >"$LOG" 2>&1 </dev/null &
  pid=$!
  record_pid "$PIDFILE" "$pid"
  for ((i = 0; i < READY_TIMEOUT * 10; i++)); do
    if ! alive "$pid"; then
      say "pcscd (pid $pid) exited during start-up; its log ($LOG):"
      tail -20 "$LOG" >&2 || true
      rm -f "$PIDFILE"
      exit 1
    fi
    if [ -S "$SOCK" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = pcscd ] && readers | grep -qF "$first 00 00"; then
      say "started pcscd (pid $pid) with $n IFD reader(s): socket $SOCK, config $CONF, log $LOG"
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
  local pid
  if [ ! -e "$PIDFILE" ]; then
    say "no IFD pcscd started by this script; nothing stopped"
    return 0
  fi
  pid=$(recorded_pid)
  if [ -n "$pid" ]; then
    stop_pid "$pid" "the IFD pcscd" || return 1
  else
    say "the IFD pcscd recorded in $PIDFILE ($(head -c 40 "$PIDFILE" | tr -d '\n')) is not running any more (its pid may name another process now); nothing stopped"
  fi
  rm -f "$PIDFILE"
  forget "$SOCK"
}

status() {
  local pid
  pid=$(recorded_pid)
  if [ -n "$pid" ]; then
    echo "IFD pcscd: running, pid $pid, socket $SOCK (PCSCLITE_CSOCK_NAME), config $CONF"
    local k=0 name
    while IFS= read -r name; do
      printf '  reader "%s %02X 00"\n' "$name" "$k"
      k=$((k + 1))
    done < <(conf_names "$CONF")
  else
    echo "IFD pcscd: not running (socket $SOCK)"
    return 1
  fi
}

# need_root: install and uninstall write outside a DESTDIR only as root.
need_root() {
  [ -n "${DESTDIR:-}" ] || [ "$(id -u)" -eq 0 ] ||
    die "$1 writes $INSTALL_LIB, $INSTALL_CONF and $INSTALL_TMPFILES: run it as root (or set DESTDIR to stage the files)"
}

# ours_conf FILE [MARKER] / ours_lib FILE: FILE is absent, or is what
# install wrote (its first line is MARKER, by default the reader.conf.d
# file's).
ours_conf() { [ ! -e "$1" ] || [ "$(head -n 1 "$1" 2>/dev/null)" = "${2:-$MARKER}" ]; }
ours_lib() { [ ! -e "$1" ] || grep -qF "$LIB_MARK" "$1"; }

# machine_pcscd: the pids of the pcscd processes that hold the machine's
# socket (SYS_SOCK) open, from /proc (ss may be absent).
machine_pcscd() {
  local inodes fd link pid
  inodes=$(awk -v p="$SYS_SOCK" '$NF == p { print $7 }' /proc/net/unix 2>/dev/null)
  [ -n "$inodes" ] || return 0
  for fd in /proc/[0-9]*/fd/*; do
    link=$(readlink "$fd" 2>/dev/null) || continue
    case "$link" in socket:\[*\]) ;; *) continue ;; esac
    link=${link#socket:[}
    grep -qxF "${link%]}" <<<"$inodes" || continue
    pid=${fd#/proc/}
    pid=${pid%%/*}
    [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = pcscd ] && echo "$pid"
  done | sort -un
}

# restart_advice WHAT: what the machine's pcscd needs to see WHAT (the
# readers installed, or gone). It restarts nothing.
restart_advice() {
  local pids
  if [ -n "${DESTDIR:-}" ]; then
    say "the files are staged under DESTDIR=$DESTDIR; this machine's pcscd is not concerned"
    return 0
  fi
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    if systemctl is-active --quiet pcscd.service; then
      say "pcscd reads $INSTALL_CONF only when it starts: to see $1, restart it: systemctl restart pcscd.service"
      return 0
    fi
    if systemctl is-active --quiet pcscd.socket; then
      say "pcscd.service is not running; pcscd.socket starts it at the next client, which will see $1"
      return 0
    fi
  fi
  pids=$(machine_pcscd | tr '\n' ' ')
  if [ -n "$pids" ]; then
    say "the machine's pcscd (pid ${pids% }, on $SYS_SOCK) reads $INSTALL_CONF only when it starts: to see $1, restart it the way it was started (this script restarts no pcscd)"
  else
    say "no pcscd answers on $SYS_SOCK: the next one started will see $1"
  fi
}

# socket_dir: makes CARD_DIR root:IFD_GROUP mode IFD_DIR_MODE now, on this
# machine (not under DESTDIR), from the tmpfiles.d file install wrote, and
# says where the sockets go and who may serve them.
socket_dir() {
  local how user=${SUDO_USER:-}
  if ! getent group "$IFD_GROUP" >/dev/null; then
    command -v groupadd >/dev/null 2>&1 ||
      die "no group $IFD_GROUP and no groupadd to add it: add the group, or name an existing one in TESSERA_IFD_GROUP"
    groupadd --system "$IFD_GROUP" || die "groupadd --system $IFD_GROUP failed"
    say "added the system group $IFD_GROUP (uninstall keeps it: groupdel $IFD_GROUP)"
  fi
  if command -v systemd-tmpfiles >/dev/null 2>&1; then
    systemd-tmpfiles --create "$INSTALL_TMPFILES" ||
      die "systemd-tmpfiles --create $INSTALL_TMPFILES failed: $CARD_DIR may be missing"
    how="systemd-tmpfiles makes it at every boot from $INSTALL_TMPFILES"
  else
    mkdir -p "${CARD_DIR%/*}"
    [ -d "$CARD_DIR" ] || mkdir "$CARD_DIR"
    chown "root:$IFD_GROUP" "$CARD_DIR"
    chmod "$IFD_DIR_MODE" "$CARD_DIR"
    how="made now: this machine has no systemd-tmpfiles, and a reboot empties /run: run install again after one"
  fi
  say "the driver looks for the cards' sockets in $CARD_DIR: root:$IFD_GROUP, mode $IFD_DIR_MODE ($how)"
  if [ -n "$user" ] && [ "$user" != root ] && ! id -nG "$user" 2>/dev/null | tr ' ' '\n' | grep -qxF "$IFD_GROUP"; then
    say "to run tessera sim --bridge ifd without root, $user needs the group $IFD_GROUP: usermod -aG $IFD_GROUP $user, then log in again"
  else
    say "a user runs tessera sim --bridge ifd without root once in the group $IFD_GROUP (usermod -aG $IFD_GROUP USER, then log in again)"
  fi
}

install_ifd() {
  [ $# -gt 0 ] || die "install: name the readers: scripts/ifd.sh install NAME..."
  check_names "$@"
  need_root install
  [[ "$IFD_GROUP" =~ ^[a-z_][a-z0-9_-]{0,31}$ ]] ||
    die "TESSERA_IFD_GROUP '$IFD_GROUP': a group name (lower-case letters, digits, _ and -, at most 32, not starting with a digit or -)"
  [[ "$CARD_DIR" =~ ^/[A-Za-z0-9/._+-]+$ ]] ||
    die "socket directory $CARD_DIR (TESSERA_RUN_DIR/ifd): install needs an absolute path of letters, digits and /._+- (reader.conf and tmpfiles.d lines)"
  local lib=${DESTDIR:-}$INSTALL_LIB conf=${DESTDIR:-}$INSTALL_CONF tmpfiles=${DESTDIR:-}$INSTALL_TMPFILES tmp name
  root_only "${lib%/*}" "${conf%/*}" "${tmpfiles%/*}"
  ours_conf "$conf" || die "$conf was not written by scripts/ifd.sh install (its first line is not the marker): not replacing it; move it away first"
  ours_conf "$tmpfiles" "$TMPFILES_MARKER" || die "$tmpfiles was not written by scripts/ifd.sh install (its first line is not the marker): not replacing it; move it away first"
  ours_lib "$lib" || die "$lib is not Tessera's IFD driver: not replacing it; move it away first"
  make -s ifd >&2
  [ -d "${lib%/*}" ] || install -d -m 0755 "${lib%/*}"
  [ -d "${conf%/*}" ] || install -d -m 0755 "${conf%/*}"
  # A new file renamed over the old: a running pcscd keeps the inode it
  # mapped, and pcscd skips dot files in reader.conf.d.
  tmp=${lib%/*}/.libifdtessera.so.new
  install -m 0644 "$LIB" "$tmp"
  mv -f "$tmp" "$lib"
  tmp=${conf%/*}/.tessera-ifd.new
  {
    echo "$MARKER"
    echo "# The readers of \`tessera sim --bridge ifd\` (docs/ifd-bridge.md): card k serves"
    echo "# the socket $CARD_DIR/card-k.sock, pcscd names its reader \"NAME KK 00\"."
    echo
    conf_for "$INSTALL_LIB" "$@"
  } >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$conf"
  [ -d "${tmpfiles%/*}" ] || install -d -m 0755 "${tmpfiles%/*}"
  tmp=${tmpfiles%/*}/.tessera-ifd.conf.new
  {
    echo "$TMPFILES_MARKER"
    echo "# The socket directory of \`tessera sim --bridge ifd\` (docs/ifd-bridge.md), where"
    echo "# $INSTALL_CONF sends pcscd: a simulator run by a user in the"
    echo "# group $IFD_GROUP serves its cards there; the setgid bit gives the sockets that group,"
    echo "# the sticky bit keeps each socket its owner's."
    printf 'd %s %s root %s -\n' "$CARD_DIR" "$IFD_DIR_MODE" "$IFD_GROUP"
  } >"$tmp"
  chmod 0644 "$tmp"
  mv -f "$tmp" "$tmpfiles"
  say "installed $lib, $conf and $tmpfiles ($# reader(s))"
  if [ -n "${DESTDIR:-}" ]; then
    say "the driver looks for the cards' sockets in $CARD_DIR, root:$IFD_GROUP mode $IFD_DIR_MODE from $INSTALL_TMPFILES; the package must provide the group $IFD_GROUP"
  else
    socket_dir
  fi
  restart_advice "the readers"
  local ifd_dir=
  [ "$CARD_DIR" = /run/tessera/ifd ] || ifd_dir=" --ifd-dir $CARD_DIR"
  printf -v name -- ' --reader-name "%s"' "$@"
  say "then run: tessera sim --bridge ifd$ifd_dir$name (the names in this order)"
}

uninstall_ifd() {
  need_root uninstall
  local lib=${DESTDIR:-}$INSTALL_LIB conf=${DESTDIR:-}$INSTALL_CONF tmpfiles=${DESTDIR:-}$INSTALL_TMPFILES f removed=()
  root_only "${lib%/*}" "${conf%/*}" "${tmpfiles%/*}"
  ours_conf "$conf" || die "$conf was not written by scripts/ifd.sh install (its first line is not the marker): removing nothing"
  ours_conf "$tmpfiles" "$TMPFILES_MARKER" || die "$tmpfiles was not written by scripts/ifd.sh install (its first line is not the marker): removing nothing"
  ours_lib "$lib" || die "$lib is not Tessera's IFD driver: removing nothing"
  for f in "$conf" "$lib" "$tmpfiles"; do
    if [ -e "$f" ]; then
      rm -f "$f"
      removed+=("$f")
    fi
  done
  if [ ${#removed[@]} -eq 0 ]; then
    say "nothing installed ($conf, $lib and $tmpfiles absent); nothing removed"
    return 0
  fi
  rmdir "${lib%/*}" 2>/dev/null || true
  say "removed ${removed[*]}"
  [ -n "${DESTDIR:-}" ] || say "left the socket directory $CARD_DIR (a reboot empties /run) and its group"
  restart_advice "the readers gone"
}

case "${1:-}" in
  start)
    shift
    bash scripts/deps.sh
    start "$@"
    ;;
  stop) stop ;;
  status) status ;;
  install)
    shift
    install_ifd "$@"
    ;;
  uninstall)
    [ $# -eq 1 ] || die "usage: scripts/ifd.sh uninstall (no arguments)"
    uninstall_ifd
    ;;
  *) die "usage: scripts/ifd.sh start [NAME...] | start --conf FILE | stop | status | install NAME... | uninstall" ;;
esac
