#!/usr/bin/env bash
# Installs the Debian packages Tessera's simulator, end-to-end tests and
# `make run` need, when missing: pcscd and the vsmartcard vpcd driver, the
# PC/SC headers cgo needs for github.com/ebfe/scard and piv-go, a C compiler,
# and the clients the end-to-end interop flows drive (opensc, pcsc-tools,
# yubico-piv-tool, yubikey-manager, openssl, openssh-client for ssh-keygen),
# systemd for systemd-socket-activate (extra pcscd instances), and the stock
# vsmartcard card `vicc` (vsmartcard-vpicc, with python3-pycryptodome it
# imports) that `make bench` compares with, and swtpm with swtpm-tools (a
# software TPM 2.0) and libssl-dev (libcrypto for cgo), which the TPM-backed
# card state tests (simulator/tpmstore) run against, and shellcheck, which
# `make lint` runs over the scripts.
# Runs `apt-get update` at most once, and only if something is missing.
# Prints what it does.
# Usage: scripts/deps.sh
set -euo pipefail

pkgs=(pcscd libpcsclite-dev vsmartcard-vpcd vsmartcard-vpicc python3-pycryptodome opensc pcsc-tools yubico-piv-tool yubikey-manager openssl openssh-client systemd gcc libc6-dev pkg-config swtpm swtpm-tools libssl-dev shellcheck)

installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

if ! command -v dpkg-query >/dev/null 2>&1; then
  # Not Debian: check for what the packages provide instead.
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
echo "deps: installing ${missing[*]}" >&2
"${sudo[@]}" apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
for p in "${missing[@]}"; do
  if ! installed "$p"; then
    echo "deps: $p is still not installed after apt-get install" >&2
    exit 1
  fi
done
echo "deps: installed ${missing[*]}" >&2
