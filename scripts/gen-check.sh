#!/usr/bin/env bash
# gen-check.sh regenerates every generated file under soap/ (gowsdl, pinned in
# go.mod as a tool) and fails when the result differs from what is committed:
# generated code is never edited by hand, and a WSDL change must come with its
# regenerated code in the same commit.
#
# Run from anywhere inside the repository: scripts/gen-check.sh
set -euo pipefail

cd "$(git rev-parse --show-toplevel)"

go generate ./soap/...

status=0
if ! git diff --exit-code --stat -- soap/; then
	echo "gen-check: generated code under soap/ differs from the committed files (diff above)." >&2
	echo "gen-check: run 'go generate ./soap/...' and commit the result." >&2
	status=1
fi

untracked=$(git ls-files --others --exclude-standard -- soap/)
if [ -n "$untracked" ]; then
	echo "gen-check: generation produced files that are not committed:" >&2
	echo "$untracked" >&2
	status=1
fi

if [ "$status" -eq 0 ]; then
	echo "gen-check: generated code is up to date."
fi
exit "$status"
