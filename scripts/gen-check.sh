#!/usr/bin/env bash
# gen-check.sh regenerates every generated file under soap/ (gowsdl, pinned in
# go.mod as a tool) and fails when a generated file then differs from what is
# committed, or is not committed at all: generated code is never edited by
# hand, and a WSDL change must come with its regenerated code.
#
# A file counts as generated when it starts with the standard
# "// Code generated … DO NOT EDIT." line. Other work in progress under soap/
# (hand-written code, tests) is ignored, so the check also works in a tree
# with uncommitted changes; in CI (a clean checkout) it is exact.
#
# Run from anywhere inside the repository: scripts/gen-check.sh
set -euo pipefail

cd "$(git rev-parse --show-toplevel)"

go generate ./soap/...

is_generated() { # reads Go source on stdin
	head -n 5 | grep -qE '^// Code generated .* DO NOT EDIT\.?$'
}

stale=()
while IFS= read -r f; do
	[ -n "$f" ] || continue
	case "$f" in *.go) ;; *) continue ;; esac
	if [ -f "$f" ]; then
		is_generated <"$f" && stale+=("$f")
	elif git cat-file -e "HEAD:$f" 2>/dev/null; then
		# Generation removed a committed file.
		git show "HEAD:$f" | is_generated && stale+=("$f")
	fi
done < <({ git diff --name-only HEAD -- soap/; git ls-files --others --exclude-standard -- soap/; } | sort -u)

if [ "${#stale[@]}" -gt 0 ]; then
	echo "gen-check: generated code differs from the committed files:" >&2
	for f in "${stale[@]}"; do
		if git ls-files --error-unmatch -- "$f" >/dev/null 2>&1; then
			git --no-pager diff --stat HEAD -- "$f" >&2
		else
			echo " $f (not committed)" >&2
		fi
	done
	echo "gen-check: run 'go generate ./soap/...' and commit the WSDL and the generated code together." >&2
	exit 1
fi
echo "gen-check: generated code is up to date."
