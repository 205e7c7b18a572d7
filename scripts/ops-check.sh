#!/usr/bin/env bash
# ops-check.sh — checks the ops artefacts in ops/:
#   1. promtool check rules  ops/prometheus/alerts.yml
#   2. promtool test rules   ops/prometheus/alerts_test.yml (fire and don't-fire cases)
#   3. every Grafana dashboard in ops/grafana/ is valid JSON, has unique panel
#      ids, and every PromQL expression in it parses (promtool, via a
#      throw-away rule file)
#   4. every metric name used by the dashboards and the alerts is in the
#      catalogue ops/metrics.txt, and every alert's runbook_url points to a
#      heading of docs/operators.md
#   5. with --scrape URL: `promtool check metrics` on a live /metrics scrape,
#      and the catalogue's erpgate_ names that scrape lacks (an error with
#      --strict, else a note: some metrics appear only after first use)
#
# Usage: scripts/ops-check.sh [--scrape http://127.0.0.1:8080/metrics [--strict]]
# Needs: promtool (Debian package "prometheus"), python3, curl for --scrape.
set -euo pipefail

cd "$(dirname "$0")/.."
scrape=""
strict=0
while [ $# -gt 0 ]; do
	case "$1" in
	--scrape) scrape="${2:?--scrape needs a URL}"; shift 2 ;;
	--strict) strict=1; shift ;;
	-h|--help) sed -n '2,17p' "$0"; exit 0 ;;
	*) echo "ops-check: unknown argument $1" >&2; exit 2 ;;
	esac
done

for tool in promtool python3; do
	command -v "$tool" >/dev/null || { echo "ops-check: $tool not found (apt-get install prometheus python3)" >&2; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== promtool check rules"
promtool check rules ops/prometheus/alerts.yml

echo "== promtool test rules"
promtool test rules ops/prometheus/alerts_test.yml

echo "== dashboards, metric names, runbooks"
python3 - "$tmp" <<'PY'
import glob, json, re, sys
tmp = sys.argv[1]
fail = []

# The catalogue: first field of every non-comment line.
catalogue = {}
for line in open("ops/metrics.txt", encoding="utf-8"):
    line = line.strip()
    if line and not line.startswith("#"):
        f = line.split()
        catalogue[f[0]] = f[1] if len(f) > 1 else "?"

name_re = re.compile(r"\b((?:erpgate|go|process)_[a-zA-Z0-9_]+|up)\b(?=\s*[{\[)\s]|$)")

def metric_names(expr):
    out = set()
    for m in name_re.finditer(expr):
        n = m.group(1)
        if n == "up" and not re.search(r"\bup\s*\{", expr):
            continue
        for suf in ("_bucket", "_sum", "_count"):
            if n.endswith(suf) and catalogue.get(n[: -len(suf)]) in ("histogram", "summary"):
                n = n[: -len(suf)]
        out.add(n)
    return out

used = {}
def use(where, expr):
    for n in metric_names(expr):
        used.setdefault(n, set()).add(where)

# Dashboards.
exprs = []
for path in sorted(glob.glob("ops/grafana/*.json")):
    try:
        d = json.load(open(path, encoding="utf-8"))
    except ValueError as e:
        fail.append(f"{path}: not valid JSON: {e}")
        continue
    ids = []
    def walk(panels):
        for p in panels:
            ids.append(p.get("id"))
            for t in p.get("targets", []):
                if t.get("expr"):
                    exprs.append((f"{path} panel {p.get('id')} \"{p.get('title')}\"", t["expr"]))
            walk(p.get("panels", []))
    walk(d.get("panels", []))
    for a in d.get("annotations", {}).get("list", []):
        if a.get("expr"):
            exprs.append((f"{path} annotation \"{a.get('name')}\"", a["expr"]))
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        fail.append(f"{path}: duplicate panel ids {sorted(dup)}")
    if not exprs:
        fail.append(f"{path}: no queries")
    for where, e in exprs:
        use(where, e)

# Dashboard expressions must parse: wrap them as recording rules so that
# promtool's parser checks them (Grafana variables replaced by samples).
with open(f"{tmp}/dashboard_rules.yml", "w") as f:
    f.write("groups:\n  - name: dashboard-queries\n    rules:\n")
    for i, (where, e) in enumerate(exprs):
        e = e.replace("$__rate_interval", "5m").replace("$__interval", "1m").replace("$instance", ".*")
        f.write(f"      - record: dashboard:query_{i}\n        expr: {json.dumps(e)}\n")
with open(f"{tmp}/dashboard_where.txt", "w") as f:
    for i, (where, _) in enumerate(exprs):
        f.write(f"dashboard:query_{i}\t{where}\n")

# Alerts: expressions and runbook anchors.
text = open("ops/prometheus/alerts.yml", encoding="utf-8").read()
for m in re.finditer(r"^\s*expr:\s*(\|\s*\n((?:\s{10,}.*\n)+)|(.*))", text, re.M):
    use("ops/prometheus/alerts.yml", m.group(2) or m.group(3))
# Every alert links its runbook (runbook_url) to a heading of docs/operators.md.
runbooks = open("docs/operators.md", encoding="utf-8").read() if glob.glob("docs/operators.md") else ""
anchors = {re.sub(r"[^a-z0-9 -]", "", h.strip().lower()).replace(" ", "-") for h in re.findall(r"^#+\s+(.*)$", runbooks, re.M)}
# Each alert's own runbook: runbook_url "docs/operators.md#<alert name in lower case>".
rules = re.split(r"^\s*-\s*alert:\s*", text, flags=re.M)[1:]
for rule in rules:
    name = rule.split()[0]
    links = re.findall(r'runbook_url:\s*"([^"]*)"', rule)
    want = "docs/operators.md#" + name.lower()
    if links != [want]:
        fail.append(f"alerts.yml: {name}: runbook_url {links}, want [{want!r}]")
    elif name.lower() not in anchors:
        fail.append(f"alerts.yml: {name}: no heading {name} in docs/operators.md")

for n, where in sorted(used.items()):
    if n not in catalogue:
        fail.append(f"metric {n} is not in ops/metrics.txt (used in {', '.join(sorted(where))})")
unused = sorted(n for n in catalogue if n.startswith("erpgate_") and n not in used)
if unused:
    print("note: catalogue metrics no dashboard or alert uses:", ", ".join(unused))
print(f"{len(exprs)} dashboard queries, {len(used)} metric names checked against {len(catalogue)} catalogue entries")
if fail:
    print("\n".join("FAIL: " + f for f in fail), file=sys.stderr)
    sys.exit(1)
PY

echo "== dashboard queries parse"
if ! out=$(promtool check rules "$tmp/dashboard_rules.yml" 2>&1); then
	echo "$out" >&2
	echo "(query numbers: $tmp/dashboard_where.txt)" >&2
	cat "$tmp/dashboard_where.txt" >&2
	exit 1
fi
echo "$out" | tail -1

if [ -n "$scrape" ]; then
	echo "== promtool check metrics on $scrape"
	curl -fsS --max-time 10 "$scrape" >"$tmp/scrape.txt"
	# promtool reports lint problems on stdout/stderr and exits non-zero.
	promtool check metrics <"$tmp/scrape.txt"
	missing=$(python3 - "$tmp/scrape.txt" <<'PY'
import re, sys
have = set()
for line in open(sys.argv[1], encoding="utf-8"):
    m = re.match(r"# (?:TYPE|HELP) (\S+)", line)
    if m:
        have.add(m.group(1))
for line in open("ops/metrics.txt", encoding="utf-8"):
    f = line.split()
    if f and not f[0].startswith("#") and f[0].startswith("erpgate_") and f[0] not in have:
        print(f[0])
PY
)
	if [ -n "$missing" ]; then
		echo "catalogue metrics not in the scrape:"
		echo "$missing" | sed 's/^/  /'
		if [ "$strict" = 1 ]; then
			exit 1
		fi
	fi
fi
echo "ops-check: OK"
