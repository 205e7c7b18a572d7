#!/usr/bin/env bash
# lighthouse.sh — Lighthouse 12.2.3 (npm, pinned) with Debian's chromium on
# the public help pages /help and /help/faq of a freshly built gateway (demo
# mode, one FAQ entry published), mobile preset (Lighthouse's default:
# simulated slow 4G and 4x CPU slowdown). Fails when any of performance,
# accessibility, best practices or SEO scores below ${MIN_SCORE:-95} on
# either page. Performance on a busy machine is noisy, so a page below the
# bar is measured once more and its better run counts; the other three
# categories do not vary between runs.
#
# Usage: scripts/lighthouse.sh [lang]     (lang: en (default) or de)
# Needs: go, npx (Node.js 18+), chromium. Reports: $LH_OUT (default a temp dir).
set -euo pipefail
cd "$(dirname "$0")/.."
lang="${1:-en}"
min="${MIN_SCORE:-95}"
for tool in go npx python3 curl; do
	command -v "$tool" >/dev/null || { echo "lighthouse.sh: $tool not found" >&2; exit 1; }
done
chrome="${CHROME_PATH:-$(command -v chromium || command -v chromium-browser || true)}"
[ -n "$chrome" ] || { echo "lighthouse.sh: chromium not found (apt-get install chromium)" >&2; exit 1; }

tmp=$(mktemp -d)
out="${LH_OUT:-$tmp}"
mkdir -p "$out"
free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 20000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
	done
	return 1
}
go build -o "$tmp/gateway" ./cmd/gateway
port=$(free_port)
"$tmp/gateway" --listen "127.0.0.1:$port" --erpsim-listen "127.0.0.1:$(free_port)" >"$tmp/gateway.log" 2>&1 &
gw=$!
trap 'kill $gw 2>/dev/null || true; wait $gw 2>/dev/null || true; rm -rf "$tmp"' EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 1 100); do
	curl -fsS "$base/readyz" >/dev/null 2>&1 && break
	sleep 0.2
done
curl -fsS "$base/readyz" >/dev/null || { echo "lighthouse.sh: gateway did not become ready" >&2; cat "$tmp/gateway.log" >&2; exit 1; }
curl -fsS -o /dev/null -X PUT "$base/admin/faq/when-does-my-order-arrive" \
	-H 'Authorization: Bearer demo-admin-token' -H 'Content-Type: application/json' \
	-d '{"topic":"delivery-date","question":{"en":"When does my order arrive?","de":"Wann kommt meine Bestellung an?"},
	     "answer":{"en":"The tracking page shows the expected delivery date as soon as the warehouse confirms your order.",
	               "de":"Die Tracking-Seite zeigt das erwartete Lieferdatum, sobald das Lager Ihre Bestellung bestätigt."}}'

# run PAGE NAME: one Lighthouse run; prints "perf a11y bp seo".
run() {
	CHROME_PATH="$chrome" npx -y lighthouse@12.2.3 "$base$1?lang=$lang" \
		--chrome-flags="--headless=new --no-sandbox" \
		--only-categories=performance,accessibility,best-practices,seo \
		--output=json --output-path="$out/$2.json" --quiet >"$tmp/lh.log" 2>&1 ||
		{ cat "$tmp/lh.log" >&2; return 1; }
	python3 - "$out/$2.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))["categories"]
print(*(round(c[k]["score"] * 100) for k in ("performance", "accessibility", "best-practices", "seo")))
PY
}

fail=0
for page in /help /help/faq; do
	name="help${page#/help}"; name="${name//\//-}-$lang"
	read -r p a b s < <(run "$page" "$name")
	for try in 2 3; do
		[ "$p" -lt "$min" ] || break
		read -r p2 a2 b2 s2 < <(run "$page" "$name-$try")
		echo "lighthouse $page?lang=$lang: performance $p, run $try: $p2" >&2
		p=$((p > p2 ? p : p2))
	done
	echo "lighthouse $page?lang=$lang: performance $p, accessibility $a, best practices $b, SEO $s"
	for v in "$p" "$a" "$b" "$s"; do
		[ "$v" -ge "$min" ] || fail=1
	done
done
if [ "$fail" = 1 ]; then
	echo "lighthouse.sh: a score is below $min (reports in $out)" >&2
	exit 1
fi
