#!/usr/bin/env bash
# Installs the Debian packages Tessera's simulator, end-to-end tests and
# `make run` need, when missing: pcscd and the vsmartcard vpcd driver, the
# PC/SC headers cgo needs for github.com/ebfe/scard and piv-go, a C compiler,
# and the clients the end-to-end interop flows drive (opensc, pcsc-tools,
# yubico-piv-tool, yubikey-manager, openssl, openssh-client for ssh-keygen,
# gnupg with scdaemon for the OpenPGP card flows),
# systemd for systemd-socket-activate (extra pcscd instances), and the stock
# vsmartcard card `vicc` (vsmartcard-vpicc, with python3-pycryptodome it
# imports) that `make bench` compares with, and swtpm with swtpm-tools (a
# software TPM 2.0) and libssl-dev (libcrypto for cgo), which the TPM-backed
# card state tests (simulator/tpmstore) run against, shellcheck, which
# `make lint` runs over the scripts, and tshark (Wireshark), which the tests
# of `tessera trace --pcapng` open its captures with (noninteractive: the
# question about non-root capture takes its default, no).
# Runs `apt-get update` at most once, and only if something is missing.
# Prints what it does.
#
# `scripts/deps.sh cross` installs instead what `make dist` needs for a
# linux/arm64 binary with PC/SC and the in-process TPM simulator: the
# aarch64 cross compiler and libc, and libpcsclite-dev and libssl-dev for
# arm64 (Debian multiarch: it adds the arm64 architecture to dpkg first,
# which makes apt-get update fetch arm64 package lists too).
# Usage: scripts/deps.sh [cross]
set -euo pipefail

pkgs=(pcscd libpcsclite-dev vsmartcard-vpcd vsmartcard-vpicc python3-pycryptodome opensc pcsc-tools yubico-piv-tool yubikey-manager openssl openssh-client gnupg scdaemon systemd gcc libc6-dev pkg-config swtpm swtpm-tools libssl-dev shellcheck tshark)
foreign=()
case "${1:-}" in
  "") ;;
  cross)
    pkgs=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross pkg-config libpcsclite-dev:arm64 libssl-dev:arm64)
    foreign=(arm64)
    ;;
  *)
    echo "deps: unknown argument $1: want none or cross" >&2
    exit 2
    ;;
esac

# installed PKG[:ARCH]: whether PKG is installed for ARCH (by default the
# native architecture) or for all. With arm64 added for `cross`, a bare
# dpkg-query answers for each architecture.
installed() {
  local name=${1%%:*} arch
  arch=$(dpkg --print-architecture)
  [[ $1 == *:* ]] && arch=${1#*:}
  local st
  st=$(dpkg-query -W -f='${db:Status-Status} ${Architecture}\n' "$name" 2>/dev/null) || return 1
  grep -qxE "installed ($arch|all)" <<<"$st"
}

if ! command -v dpkg-query >/dev/null 2>&1; then
  # Not Debian: check for what the packages provide instead.
  if [ ${#foreign[@]} -gt 0 ]; then
    command -v aarch64-linux-gnu-gcc >/dev/null 2>&1 && exit 0
    echo "deps: not a Debian system: install an aarch64-linux-gnu C compiler and libpcsclite for arm64 by hand" >&2
    exit 1
  fi
  if command -v pcscd >/dev/null 2>&1 && pkg-config --exists libpcsclite 2>/dev/null && command -v cc >/dev/null 2>&1; then
    exit 0
  fi
  echo "deps: not a Debian system: install pcscd with the vsmartcard vpcd driver, the PC/SC Lite headers (libpcsclite) and a C compiler by hand" >&2
  exit 1
fi

missing=()
for p in "${pkgs[@]}"; do
  installed "$p" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "deps: missing ${missing[*]} and there is no apt-get; install them by hand (Debian 12 package names)" >&2
  exit 1
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "deps: missing ${missing[*]}; run as root or install sudo" >&2
    exit 1
  fi
  sudo=(sudo)
fi
for a in "${foreign[@]}"; do
  if ! dpkg --print-foreign-architectures | grep -qx "$a"; then
    echo "deps: adding the $a architecture to dpkg" >&2
    "${sudo[@]}" dpkg --add-architecture "$a"
  fi
done
echo "deps: installing ${missing[*]}" >&2
# On a machine just booted, apt-daily or unattended-upgrades may hold the
# dpkg lock: apt-get waits for it (up to 10 minutes) instead of failing.
lock=(-o DPkg::Lock::Timeout=600)
"${sudo[@]}" apt-get "${lock[@]}" update -qq >&2
# Through env, not before sudo: sudo's env_reset drops the caller's
# environment, and debconf would ask its questions (tshark's) at a prompt.
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${lock[@]}" install -y -qq --no-install-recommends "${missing[@]}" >&2
for p in "${missing[@]}"; do
  if ! installed "$p"; then
    echo "deps: $p is still not installed after apt-get install" >&2
    exit 1
  fi
done
echo "deps: installed ${missing[*]}" >&2
