#!/usr/bin/env bash
# Prints the path of the Mailpit binary (github.com/axllent/mailpit), the
# SMTP catcher with a web inbox that make run, make test and make bench use;
# installs it with go install into the cache bin dir when it is missing.
# MAILPIT_BIN names another binary.
set -euo pipefail
version=v1.33.1
if [[ -n ${MAILPIT_BIN:-} ]]; then
	[[ -x $MAILPIT_BIN ]] || { echo "mailpit.sh: MAILPIT_BIN=$MAILPIT_BIN is not executable" >&2; exit 1; }
	echo "$MAILPIT_BIN"
	exit 0
fi
bin=${XDG_CACHE_HOME:-$HOME/.cache}/acronis-platform/bin
if [[ ! -x $bin/mailpit ]]; then
	if command -v mailpit >/dev/null; then
		command -v mailpit
		exit 0
	fi
	mkdir -p "$bin"
	echo "mailpit.sh: installing Mailpit $version (first run only)" >&2
	GOBIN=$bin go install "github.com/axllent/mailpit@$version"
fi
echo "$bin/mailpit"
