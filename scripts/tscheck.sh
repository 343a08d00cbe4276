#!/usr/bin/env bash
# TypeScript check: types generated from api/openapi.yaml by openapi-typescript
# must compile under tsc --strict, together with scripts/ts/*.ts, which use
# them the way a TypeScript storefront or console would.
# Nothing generated is written into the repository.
set -euo pipefail

OPENAPI_TS_VERSION=7.13.0
TYPESCRIPT_VERSION=5.9.3 # openapi-typescript 7 wants typescript 5
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/acronis-platform/npm
PREFIX=$CACHE/tscheck-$OPENAPI_TS_VERSION-$TYPESCRIPT_VERSION
BIN=$PREFIX/node_modules/.bin

if [ ! -x "$BIN/openapi-typescript" ] || [ ! -x "$BIN/tsc" ]; then
  echo "tscheck.sh: installing openapi-typescript@$OPENAPI_TS_VERSION and typescript@$TYPESCRIPT_VERSION into $PREFIX" >&2
  mkdir -p "$CACHE"
  # Install into a temp dir and rename, as scripts/spectral.sh does.
  inst=$(mktemp -d "$CACHE/.install.XXXXXX")
  trap 'rm -rf "$inst"' EXIT
  npm install --prefix "$inst" --no-save --no-audit --no-fund --no-package-lock --loglevel=error \
    "openapi-typescript@$OPENAPI_TS_VERSION" "typescript@$TYPESCRIPT_VERSION" >&2
  mv -T "$inst" "$PREFIX" 2>/dev/null || true # another run may have won the race
fi

work=$(mktemp -d)
trap 'rm -rf "$work" ${inst:+"$inst"}' EXIT
# --default-non-nullable=false: a field with a default stays optional, in
# requests as in the spec (openapi-typescript would otherwise make it
# required wherever a schema is reached through components).
"$BIN/openapi-typescript" "$ROOT/api/openapi.yaml" --default-non-nullable false -o "$work/api.d.ts" >&2
cp "$ROOT"/scripts/ts/*.ts "$work/"
cat > "$work/tsconfig.json" <<'JSON'
{
  "compilerOptions": {
    "strict": true,
    "noEmit": true,
    "target": "ES2022",
    "module": "ES2022",
    "moduleResolution": "bundler",
    "lib": ["ES2022", "DOM"],
    "types": [],
    "noUnusedLocals": true,
    "exactOptionalPropertyTypes": true,
    "skipLibCheck": false
  },
  "include": ["*.ts"]
}
JSON
"$BIN/tsc" -p "$work/tsconfig.json"
echo "TypeScript types from api/openapi.yaml compile under tsc --strict"
