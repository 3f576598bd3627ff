#!/usr/bin/env bash
# Makes sure a Go toolchain new enough for go.mod is on PATH and the module's
# dependencies are downloaded. Prints what it does; fails with a clear message.
set -euo pipefail
cd "$(dirname "$0")/.."

want=$(awk '/^go /{print $2; exit}' go.mod)
for d in /usr/local/go/bin /usr/lib/go/bin "$HOME/go/bin"; do
  case ":$PATH:" in *":$d:"*) ;; *) [ -d "$d" ] && PATH="$PATH:$d" ;; esac
done
if ! command -v go >/dev/null 2>&1; then
  echo "ensure-go: no Go toolchain found. Install Go >= $want (https://go.dev/dl) into /usr/local/go." >&2
  exit 1
fi
have=$(go env GOVERSION | sed 's/^go//')
older=$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -1)
if [ "$older" != "$want" ]; then
  # go >= 1.21 fetches the toolchain go.mod asks for through the module proxy.
  echo "ensure-go: go $have is older than $want; relying on GOTOOLCHAIN=auto to fetch go$want" >&2
fi
if [ -n "$(awk '/^require/{print}' go.mod)" ]; then
  go mod download
fi
