#!/usr/bin/env bash
# openapi-check.sh lints the REST description (gateway/openapi/openapi.yaml)
# with an independent linter, Redocly CLI (npm, pinned), under the rules in
# redocly.yaml. The Go tests hold the description to the code (docs/api.md);
# this checks it as a document: OpenAPI 3.1 structure, $refs, examples,
# operation ids, security. Needs npx (Node.js); installs nothing else.
#
# Run from anywhere inside the repository: scripts/openapi-check.sh
set -euo pipefail
cd "$(git rev-parse --show-toplevel 2>/dev/null || dirname "$0"/..)"

REDOCLY_CLI_VERSION=2.77.0
# Redocly CLI 2.77.0 needs Node.js >= 20.19 (20.x) or >= 22.12; Debian 12's
# own nodejs is 18, so a machine needs a newer one (e.g. NodeSource).
node_ok=$(node -e 'const [a,b]=process.versions.node.split(".").map(Number);console.log(a>=23||a==22&&b>=12||a==20&&b>=19?1:0)' 2>/dev/null || echo 0)
if [ "$node_ok" != 1 ]; then
	echo "openapi-check: Redocly CLI ${REDOCLY_CLI_VERSION} needs Node.js >= 20.19; found: $(node --version 2>/dev/null || echo none)" >&2
	exit 1
fi
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1
npx -y "@redocly/cli@${REDOCLY_CLI_VERSION}" lint --config redocly.yaml --format=stylish gateway/openapi/openapi.yaml
