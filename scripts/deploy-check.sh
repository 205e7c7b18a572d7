#!/usr/bin/env bash
# deploy-check.sh — checks deploy/erpgate.service with systemd's own tools:
#   1. systemd-analyze verify (the unit parses, its directives are known, the
#      binary it starts exists: a freshly built gateway stands in for
#      /usr/local/bin/erpgate)
#   2. systemd-analyze security --offline=true --threshold=20: the sandbox's
#      exposure level is at most 2.0 (systemd counts the threshold in tenths)
# Works without a booted systemd (containers, CI). The Containerfile and the
# environment file are checked by go test (cmd/gateway/deploy_test.go).
# Needs: systemd-analyze (Debian package "systemd"), go.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v systemd-analyze >/dev/null || { echo "deploy-check: systemd-analyze not found (apt-get install systemd)" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/erpgate" ./cmd/gateway
sed "s|^ExecStart=/usr/local/bin/erpgate|ExecStart=$tmp/erpgate|" deploy/erpgate.service >"$tmp/erpgate.service"
grep -q "^ExecStart=$tmp/erpgate" "$tmp/erpgate.service" || { echo "deploy-check: ExecStart is not /usr/local/bin/erpgate" >&2; exit 1; }

echo "== systemd-analyze verify deploy/erpgate.service"
out=$(systemd-analyze verify "$tmp/erpgate.service" 2>&1) || { echo "$out" >&2; exit 1; }
# verify exits 0 on some warnings; treat any output about the unit as a failure.
if echo "$out" | grep -q "erpgate.service"; then
	echo "$out" >&2
	exit 1
fi

echo "== systemd-analyze security --offline=true --threshold=20 deploy/erpgate.service"
systemd-analyze security --offline=true --threshold=20 --no-pager deploy/erpgate.service | tail -1
echo "deploy-check: OK"
