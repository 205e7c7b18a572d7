#!/usr/bin/env bash
# flood-check.sh — shows per-client rate limiting (docs/hardening.md):
# one shop floods while a second shop sends a steady rate; the second
# shop's p99 is measured alone, beside the flood without a limit, and
# beside the flood with the flooding shop limited. Prints medians of
# --runs runs (default 3).
#
#   scripts/flood-check.sh [--runs N] [--victim-rate R] [--flood-rate F] [--limit L] [--duration D]
#
# It starts its own redis-server (AOF), gateway (embedded ERP simulator) on
# loopback ports BASE+1 (Redis), BASE+2 (gateway), BASE+3 (simulator),
# BASE from $FLOOD_PORT_BASE (default 16140), and stops them on exit.
set -euo pipefail
runs=3 victim=200 flood=3000 limit=300 duration=10s
while [ $# -gt 0 ]; do
	case $1 in
	--runs) runs=$2; shift 2 ;;
	--victim-rate) victim=$2; shift 2 ;;
	--flood-rate) flood=$2; shift 2 ;;
	--limit) limit=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	*) echo "unknown argument $1" >&2; exit 2 ;;
	esac
done
base=${FLOOD_PORT_BASE:-16140}
rport=$((base + 1)) gport=$((base + 2)) sport=$((base + 3))
if redis-cli -p "$rport" ping >/dev/null 2>&1; then
	echo "port $rport is taken; set FLOOD_PORT_BASE" >&2
	exit 1
fi
cd "$(dirname "$0")/.."
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	redis-cli -p "$rport" shutdown nosave >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/gateway" ./cmd/gateway
go build -o "$work/loadtest" ./cmd/loadtest
redis-server --port "$rport" --bind 127.0.0.1 --dir "$work" --appendonly yes --save '' --daemonize yes >/dev/null

hash() { printf %s "$1" | sha256sum | cut -d' ' -f1; }
config() { # $1: the flooding shop's rate_limit JSON or ""
	local rl=""
	[ -n "$1" ] && rl=", \"rate_limit\": $1"
	cat <<JSON
{"clients": [
 {"id": "demo-shop", "kind": "shop", "key_sha256": "$(hash demo-shop-key)"},
 {"id": "flood-shop", "kind": "shop", "key_sha256": "$(hash flood-key)"$rl},
 {"id": "demo-admin", "kind": "admin", "key_sha256": "$(hash demo-admin-token)"},
 {"id": "demo-erp", "kind": "erp", "key_sha256": "$(hash demo-erp-callback-key)"}]}
JSON
}
config "" >"$work/nolimit.json"
config "{\"per_second\": $limit, \"burst\": $limit}" >"$work/limit.json"

# run SCENARIO: prints "victim_p99_ms flood_ok_per_s flood_429_per_s"
run() {
	local cfg=$1 withflood=$2
	redis-cli -p "$rport" flushall >/dev/null
	"$work/gateway" --listen 127.0.0.1:$gport --erpsim-listen 127.0.0.1:$sport \
		--redis-url redis://127.0.0.1:$rport --config "$work/$cfg.json" --log-level error >"$work/gw.log" 2>&1 &
	local gw=$!
	pids+=("$gw")
	for _ in $(seq 100); do curl -sf http://127.0.0.1:$gport/readyz >/dev/null && break; sleep 0.1; done
	local fl=""
	if [ "$withflood" = 1 ]; then
		"$work/loadtest" --target http://127.0.0.1:$gport --shop-key flood-key --rate "$flood" --duration "$duration" \
			--mix rest=1 --quiet --json >"$work/flood.json" 2>/dev/null &
		fl=$!
	fi
	"$work/loadtest" --target http://127.0.0.1:$gport --rate "$victim" --duration "$duration" \
		--mix rest=1 --quiet --json >"$work/victim.json" 2>/dev/null || true
	if [ -n "$fl" ]; then wait "$fl" || true; fi
	kill "$gw"; wait "$gw" 2>/dev/null || true
	python3 - "$work" "$withflood" "$duration" <<'PY'
import json, sys
work, withflood, dur = sys.argv[1], sys.argv[2] == "1", sys.argv[3]
secs = float(dur.rstrip("s"))
v = json.load(open(work + "/victim.json"))
out = [v["latency"]["p99_ns"] / 1e6]
if withflood:
    f = json.load(open(work + "/flood.json"))
    out += [f["ok"] / secs, f["errors"].get("http_429", 0) / secs]
else:
    out += [0, 0]
print(" ".join(f"{x:.1f}" for x in out))
PY
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

declare -A res
for i in $(seq "$runs"); do
	for s in alone nolimit limit; do
		case $s in
		alone) line=$(run nolimit 0) ;;
		nolimit) line=$(run nolimit 1) ;;
		limit) line=$(run limit 1) ;;
		esac
		echo "run $i $s: victim p99 ms, flood ok/s, flood 429/s = $line" >&2
		res[$s]+="$line"$'\n'
	done
done
printf '\nvictim %s/s, flood %s/s, limit %s/s, %s per run, medians of %s runs\n' "$victim" "$flood" "$limit" "$duration" "$runs"
printf '%-34s %14s %14s %14s\n' scenario "victim p99 ms" "flood 202/s" "flood 429/s"
for s in alone nolimit limit; do
	case $s in
	alone) name="victim alone" ;;
	nolimit) name="victim + flood, no limit" ;;
	limit) name="victim + flood, flood limited" ;;
	esac
	p=$(printf '%s' "${res[$s]}" | awk 'NF{print $1}' | median)
	o=$(printf '%s' "${res[$s]}" | awk 'NF{print $2}' | median)
	l=$(printf '%s' "${res[$s]}" | awk 'NF{print $3}' | median)
	printf '%-34s %14s %14s %14s\n' "$name" "$p" "$o" "$l"
done
