#!/usr/bin/env bash
# `make run`: one simulated PIV card that every PC/SC program on the machine
# sees. Installs pcscd, vsmartcard-vpcd and the clients if missing, starts
# pcscd (without systemd) if it is not running, builds tessera, prints what to
# try, and runs `tessera sim` in the foreground until Ctrl-C; tessera sim
# prints each card's reader and factory credentials (from its profile).
# Extra arguments go to `tessera sim`, e.g. scripts/run.sh --profile yubikey-5.7
# (make run ARGS="--profile yubikey-5.7"). A pcscd this script started keeps
# running afterwards; scripts/pcscd.sh stop stops it.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/deps.sh
bash scripts/ensure-go.sh
bash scripts/pcscd.sh start >/dev/null
[ -x bin/tessera ] || go build -trimpath -o bin/tessera ./cmd/tessera

profile=default
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    --profile) profile=${args[$((i + 1))]:-default} ;;
    --profile=*) profile=${args[$i]#--profile=} ;;
  esac
done

if [ "${profile%%,*}" = iso-token ]; then
  cat <<EOF

  Tessera: a blank PKCS#11 token (profile iso-token, the ISO 7816 file-system
  application that OpenSC's isoApplet driver drives). tessera sim names its
  reader below. Personalise it and make a key, in another terminal:
      pkcs15-init --create-pkcs15 --so-pin 123456 --so-puk 0123456789abcdef --pin 123456 --auth-id FF --generate-key ec/secp256r1 --id 01 --key-usage sign
  then:
      pkcs15-tool -D
      pkcs11-tool -L
      bin/tessera card state 0          (life cycle, counters, files, keys; never a secret)

  The card's state lives in ${XDG_STATE_HOME:-$HOME/.local/state}/tessera unless --state says otherwise.
  Stop with Ctrl-C.

EOF
  exec bin/tessera sim "$@"
fi

cat <<EOF

  Tessera: a simulated PIV card (profile $profile). tessera sim names its
  reader and its factory credentials below. Try, in another terminal:
      opensc-tool -r 'Virtual PCD 00 00' -s 00A4040005A000000308 -s 00FD0000
      yubico-piv-tool -r 'Virtual PCD 00 00' -a status
      bin/tessera card state 0          (counters, keys, objects; never a secret)
      bin/tessera card remove 0         (pull the card out; 'insert 0' puts it back)

  The card's state lives in ${XDG_STATE_HOME:-$HOME/.local/state}/tessera unless --state says otherwise.
  Stop with Ctrl-C.

EOF
exec bin/tessera sim "$@"
