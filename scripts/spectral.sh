#!/usr/bin/env bash
# Lint the OpenAPI spec with Spectral.
# Usage: scripts/spectral.sh [SPEC...]  (paths relative to the repo root; default api/openapi.yaml)
set -euo pipefail

SPECTRAL_VERSION=6.16.3
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/acronis-platform/npm
PREFIX=$CACHE/spectral-cli-$SPECTRAL_VERSION
SPECTRAL=$PREFIX/node_modules/.bin/spectral

if [ ! -x "$SPECTRAL" ]; then
  echo "spectral.sh: installing @stoplight/spectral-cli@$SPECTRAL_VERSION into $PREFIX" >&2
  mkdir -p "$CACHE"
  # Install into a temp dir and rename, so an interrupted or concurrent install
  # never leaves a half-populated $PREFIX that looks complete.
  tmp=$(mktemp -d "$CACHE/.install.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  npm install --prefix "$tmp" --no-save --no-audit --no-fund --no-package-lock --loglevel=error \
    "@stoplight/spectral-cli@$SPECTRAL_VERSION" >&2
  mv -T "$tmp" "$PREFIX" 2>/dev/null || true # another run may have won the race
fi

cd "$ROOT"
if [ $# -eq 0 ]; then set -- api/openapi.yaml; fi
"$SPECTRAL" lint --ruleset api/.spectral.yaml --fail-severity=warn "$@"
