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
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1
npx -y "@redocly/cli@${REDOCLY_CLI_VERSION}" lint --config redocly.yaml --format=stylish gateway/openapi/openapi.yaml
