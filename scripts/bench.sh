#!/usr/bin/env bash
# bench.sh — measures erpgate against the performance budget of issue 7 and
# prints one table of medians.
#
# Every run starts its own processes on free loopback ports — a real
# redis-server (AOF; appendfsync everysec, or always for that scenario), the
# ERP simulator and the gateway — drives them with cmd/loadtest, and stops
# them again. Each scenario is run --runs times (default 3); the table shows
# the medians. All processes this script starts are stopped on exit, also on
# Ctrl-C.
#
# Scenarios (the budget):
#   ceiling    GET /healthz of the same gateway: what this box serves at most
#   rest       REST order intake, appendfsync everysec  ≥ 25,000/s, p99 ≤ 10 ms, ≥ 0.35 × ceiling
#   always     REST order intake, appendfsync always    ≥ 15,000/s
#   soap       SOAP order intake                        ≥ 0.6 × rest
#   delivery   5,000 orders/s delivered to v1 and v2    outbox lag p99 ≤ 1 s, 0 lost, 0 duplicated
#   tracking   tracking reads                           ≥ 30,000/s, p99 ≤ 5 ms
#   memory     gateway peak RSS during the rest runs    ≤ 150 MiB
# (live tracking streams: not measured — the load tool has no SSE client mode yet)
#
# Intake scenarios run a stepped ramp (open loop, --step seconds per rate);
# a step is "sustained" when ≥ 99.9 % of its requests succeed, none was left
# unsent, and its p99 is within the scenario's latency bound. The table shows
# the highest sustained step and the peak throughput of any step (what the
# server completed when saturated).
#
# Usage:
#   scripts/bench.sh [--runs N] [--step 2s] [--delivery-duration 20s] [--only rest,soap] [--out DIR]
#   scripts/bench.sh --smoke      # tiny rates, one run: proves the machinery works (CI)
#
# Environment:
#   GATEWAY_FLAGS  extra flags for bin/gateway (e.g. "--consumers 8")
#   ERPSIM_FLAGS   extra flags for bin/erpsim
#   BENCH_BOTH_ACTIVE_CMD  command run (with $GW set to the gateway URL) after
#                  the gateway is ready in the delivery scenario, if making v1
#                  and v2 both active needs a release-plan call
#
# Needs: go, redis-server, redis-cli, curl, python3.
set -euo pipefail

cd "$(dirname "$0")/.."
orig_args="$*"

runs=3
step=2s
delivery_duration=20s
only=""
smoke=0
out=""
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=$2; shift 2 ;;
	--step) step=$2; shift 2 ;;
	--delivery-duration) delivery_duration=$2; shift 2 ;;
	--only) only=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--smoke) smoke=1; shift ;;
	-h|--help) sed -n '2,44p' "$0"; exit 0 ;;
	*) echo "bench: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
if [ "$smoke" = 1 ]; then
	runs=1
	step=1s
	delivery_duration=2s
fi
case "$runs" in ''|*[!0-9]*) echo "bench: --runs must be a number" >&2; exit 2 ;; esac
[ "$runs" -ge 1 ] && [ "$runs" -le 20 ] || { echo "bench: --runs must be 1..20" >&2; exit 2; }

for tool in go redis-server redis-cli curl python3; do
	command -v "$tool" >/dev/null || { echo "bench: $tool not found" >&2; exit 1; }
done

out=${out:-$(mktemp -d "${TMPDIR:-/tmp}/erpgate-bench.XXXXXX")}
mkdir -p "$out"
echo "bench: results and logs in $out"

# --- process bookkeeping: only PIDs we started, stopped on any exit ---------
pids=()
stop_all() {
	local p
	for p in "${pids[@]:-}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null || true
	done
	for p in "${pids[@]:-}"; do
		[ -n "$p" ] || continue
		# Bounded wait: a process that ignores SIGTERM for 5 s gets SIGKILL.
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	pids=()
}
trap 'stop_all' EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_until DESCRIPTION COMMAND...: retries for up to 20 s.
wait_until() {
	local what=$1; shift
	for _ in $(seq 200); do
		if "$@" >/dev/null 2>&1; then return 0; fi
		sleep 0.1
	done
	echo "bench: $what did not come up; logs in $out" >&2
	return 1
}

# --- build ------------------------------------------------------------------
echo "bench: building"
mkdir -p bin
go build -o bin/gateway ./cmd/gateway
go build -o bin/loadtest ./cmd/loadtest
have_erpsim=0
if go build -o bin/erpsim ./cmd/erpsim 2>/dev/null; then
	have_erpsim=1
else
	echo "bench: cmd/erpsim does not build; using the gateway's embedded simulator" >&2
fi

# start_stack FSYNC LABEL: fresh redis-server, simulator and gateway.
# Sets GW, SIM, GW_PID.
start_stack() {
	local fsync=$1 label=$2
	local dir="$out/$label"
	mkdir -p "$dir/redis"
	local rport simport gwport
	rport=$(free_port); simport=$(free_port); gwport=$(free_port)
	redis-server --port "$rport" --bind 127.0.0.1 --dir "$dir/redis" --appendonly yes \
		--appendfsync "$fsync" --save '' --daemonize no --logfile "$dir/redis.log" &
	pids+=($!)
	wait_until "redis-server" redis-cli -p "$rport" ping

	local simflags=()
	if [ "$have_erpsim" = 1 ]; then
		# shellcheck disable=SC2086
		bin/erpsim --listen "127.0.0.1:$simport" ${ERPSIM_FLAGS:-} >"$dir/erpsim.log" 2>&1 &
		pids+=($!)
		wait_until "erpsim" curl -fsS "http://127.0.0.1:$simport/sim/orders?version=v2&external_ref=none"
		simflags=(--erp-v2-url "http://127.0.0.1:$simport/erp/v2" --erp-v1-url "http://127.0.0.1:$simport/erp/v1")
	else
		simflags=(--erpsim-listen "127.0.0.1:$simport")
	fi
	# shellcheck disable=SC2086
	bin/gateway --listen "127.0.0.1:$gwport" --redis-url "redis://127.0.0.1:$rport" \
		"${simflags[@]}" ${GATEWAY_FLAGS:-} >"$dir/gateway.log" 2>&1 &
	GW_PID=$!
	pids+=($GW_PID)
	GW="http://127.0.0.1:$gwport"
	SIM="http://127.0.0.1:$simport"
	wait_until "gateway" curl -fsS "$GW/readyz"
}

# loadtest LABEL ARGS...: one run, JSON result in $out/LABEL.json.
loadtest() {
	local label=$1; shift
	local rc=0
	bin/loadtest --target "$GW" --quiet --json --timeout 5s --drain 5s "$@" \
		>"$out/$label.json" 2>"$out/$label.txt" || rc=$?
	if ! kill -0 "$GW_PID" 2>/dev/null; then
		echo "bench: the gateway exited during $label (see $out/$label/gateway.log)" >&2
		rc=1
	fi
	return $rc
}

peak_rss_kib() {
	awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0
}

scrape() { curl -fsS --max-time 10 "$GW/metrics" >"$1" || : >"$1"; }

# Ramps (rate:step,…). The smoke mode uses tiny rates.
ramp() { # ramp RATE... → "r1:step,r2:step,…"
	local s="" r
	for r in "$@"; do s="$s${s:+,}$r:$step"; done
	echo "$s"
}
if [ "$smoke" = 1 ]; then
	ramp_ceiling=$(ramp 100 200); ramp_rest=$(ramp 100 200); ramp_always=$(ramp 100); ramp_soap=$(ramp 50 100)
	ramp_track=$(ramp 100 200); delivery_rate=100; warmup=50
else
	ramp_ceiling=$(ramp 5000 10000 20000 30000 40000 50000 60000 80000)
	ramp_rest=$(ramp 1000 2500 5000 10000 15000 20000 25000 30000 35000 40000)
	ramp_always=$(ramp 1000 2500 5000 10000 15000 20000 25000 30000)
	ramp_soap=$(ramp 1000 2500 5000 7500 10000 15000 20000 25000)
	ramp_track=$(ramp 2500 5000 10000 20000 25000 30000 35000 40000 50000)
	delivery_rate=5000; warmup=2000
fi

want() { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; }

failed_runs=0
for i in $(seq "$runs"); do
	if want ceiling; then
		echo "bench: run $i/$runs: ceiling"
		start_stack everysec "ceiling-$i"
		loadtest "ceiling-$i" --steps "$ramp_ceiling" --mix health=1 || failed_runs=$((failed_runs+1))
		stop_all
	fi
	if want rest || want memory; then
		echo "bench: run $i/$runs: REST intake (appendfsync everysec)"
		start_stack everysec "rest-$i"
		loadtest "rest-$i" --steps "$ramp_rest" --mix rest=1 || failed_runs=$((failed_runs+1))
		peak_rss_kib "$GW_PID" >"$out/rest-$i.rss"
		stop_all
	fi
	if want always; then
		echo "bench: run $i/$runs: REST intake (appendfsync always)"
		start_stack always "always-$i"
		loadtest "always-$i" --steps "$ramp_always" --mix rest=1 || failed_runs=$((failed_runs+1))
		stop_all
	fi
	if want soap; then
		echo "bench: run $i/$runs: SOAP intake"
		start_stack everysec "soap-$i"
		loadtest "soap-$i" --steps "$ramp_soap" --mix soap=1 || failed_runs=$((failed_runs+1))
		stop_all
	fi
	if want delivery; then
		echo "bench: run $i/$runs: delivery to v1 and v2 at $delivery_rate/s, verified"
		start_stack everysec "delivery-$i"
		if [ -n "${BENCH_BOTH_ACTIVE_CMD:-}" ]; then GW=$GW bash -c "$BENCH_BOTH_ACTIVE_CMD"; fi
		scrape "$out/delivery-$i.before.prom"
		# Non-zero exit = verification failed; the table shows it.
		loadtest "delivery-$i" --rate "$delivery_rate" --duration "$delivery_duration" --mix rest=1 \
			--verify "$SIM" --verify-versions v1,v2 --verify-timeout 60s || failed_runs=$((failed_runs+1))
		scrape "$out/delivery-$i.after.prom"
		stop_all
	fi
	if want tracking; then
		echo "bench: run $i/$runs: tracking reads"
		start_stack everysec "tracking-$i"
		loadtest "tracking-$i" --steps "$ramp_track" --mix track=1 --warmup "$warmup" || failed_runs=$((failed_runs+1))
		stop_all
	fi
done

# --- the table --------------------------------------------------------------
python3 - "$out" "$runs" "$smoke" <<'PY'
import json, os, re, statistics, sys

out, runs, smoke = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"

def load(label):
    res = []
    for i in range(1, runs + 1):
        p = f"{out}/{label}-{i}.json"
        if os.path.exists(p) and os.path.getsize(p) > 0:
            try:
                res.append(json.load(open(p)))
            except ValueError:
                pass
    return res

def reached(r, p99_bound):
    """Highest sustained step: ≥99.9 % ok, nothing unsent, p99 within bound."""
    best, p99 = 0.0, None
    for s in r.get("steps", []):
        ok_ratio = s["ok"] / s["planned"] if s["planned"] else 0
        if ok_ratio >= 0.999 and s["not_started"] == 0 and (p99_bound is None or s["latency"]["p99_ns"] <= p99_bound * 1e6):
            if s["rate"] > best:
                best, p99 = s["rate"], s["latency"]["p99_ns"] / 1e6
    return best, p99

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None

def fmt_rate(x):
    if x is None:
        return "-"
    return "none" if x == 0 else f"{x:,.0f}/s"

def fmt_ms(x):
    return "-" if x is None else f"{x:.2f} ms"

rows = []
def row(name, value, p99, target, verdict, note="", peak="-"):
    rows.append((name, value, p99, peak, target, verdict, note))

def peak(label):
    """Median over runs of the best completed-ok rate of any step."""
    return fmt_rate(med([max((s["ok_per_second"] for s in r.get("steps", [])), default=0) for r in load(label)]))

def judge(ok):
    if smoke:
        return "(smoke)"
    return "PASS" if ok else "MISS"

# ceiling: the best ok/s any step achieved.
ceil = med([max((s["ok_per_second"] for s in r.get("steps", [])), default=0) for r in load("ceiling")])
if ceil is not None:
    row("ceiling: GET /healthz", "-", "-", "reference", "", "", fmt_rate(ceil))

rest_runs = load("rest")
rest = [reached(r, 10) for r in rest_runs]
rest_rate = med([x[0] for x in rest])
if rest:
    bound = 25000 if ceil is None else max(25000, 0.35 * ceil)
    row("REST intake, everysec", fmt_rate(rest_rate), fmt_ms(med([x[1] for x in rest])),
        f">= 25,000/s, p99 <= 10 ms, >= 0.35 x ceiling ({fmt_rate(0.35 * ceil) if ceil else '?'})",
        judge(rest_rate >= bound), "" if rest_rate >= bound else f"short by {fmt_rate(bound - rest_rate)}", peak("rest"))

always = [reached(r, 50) for r in load("always")]
if always:
    a = med([x[0] for x in always])
    row("REST intake, always", fmt_rate(a), fmt_ms(med([x[1] for x in always])), ">= 15,000/s (p99 <= 50 ms)",
        judge(a >= 15000), "" if a >= 15000 else f"short by {fmt_rate(15000 - a)}", peak("always"))

soap = [reached(r, 25) for r in load("soap")]
if soap:
    s = med([x[0] for x in soap])
    bound = 0.6 * rest_rate if rest_rate else None
    row("SOAP intake", fmt_rate(s), fmt_ms(med([x[1] for x in soap])),
        f">= 0.6 x REST ({fmt_rate(bound)}) (p99 <= 25 ms)", judge(bound is not None and s >= bound),
        "" if bound is None or s >= bound else f"short by {fmt_rate(bound - s)}", peak("soap"))

def lag_p99(before, after, target):
    """p99 of erpgate_erp_delivery_lag_seconds{target} between two scrapes."""
    def buckets(path):
        b = {}
        if not os.path.exists(path):
            return b
        for line in open(path):
            m = re.match(r'erpgate_erp_delivery_lag_seconds_bucket\{(.*)\}\s+(\S+)', line)
            if not m:
                continue
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
            if labels.get("target") != target:
                continue
            le = float("inf") if labels["le"] == "+Inf" else float(labels["le"])
            b[le] = b.get(le, 0) + float(m.group(2))
        return b
    b0, b1 = buckets(before), buckets(after)
    les = sorted(b1)
    if not les:
        return None
    cum = [b1[le] - b0.get(le, 0) for le in les]
    total = cum[-1]
    if total <= 0:
        return None
    rank = 0.99 * total
    prev_le, prev_c = 0.0, 0.0
    for le, c in zip(les, cum):
        if c >= rank:
            if le == float("inf"):
                return prev_le
            return prev_le + (le - prev_le) * (rank - prev_c) / max(c - prev_c, 1e-9)
        prev_le, prev_c = le, c
    return None

dl = load("delivery")
if dl:
    lost = [((r.get("verification") or {}).get("lost"), (r.get("verification") or {}).get("duplicated")) for r in dl]
    okr = med([r["ok"] / max(r["elapsed_ns"] / 1e9, 1e-9) for r in dl])
    lags = {t: med([lag_p99(f"{out}/delivery-{i}.before.prom", f"{out}/delivery-{i}.after.prom", t) for i in range(1, runs + 1)]) for t in ("v1", "v2")}
    worst_lost = max((l or 0) for l, _ in lost) if lost else None
    worst_dup = max((d or 0) for _, d in lost) if lost else None
    verified = all(r.get("verification") for r in dl)
    lag_txt = ", ".join(f"{t} {'-' if v is None else f'{v:.2f} s'}" for t, v in lags.items())
    good = verified and worst_lost == 0 and worst_dup == 0 and all(v is not None and v <= 1 for v in lags.values()) \
        and all(r["ok"] == r["planned"] for r in dl)
    row("delivered to ERP v1+v2", fmt_rate(okr), "lag p99 " + lag_txt,
        ">= 5,000/s, lag p99 <= 1 s, 0 lost, 0 dup", judge(good),
        f"lost {worst_lost} dup {worst_dup}" + ("" if verified else " (verification missing)"))

tr = [reached(r, 5) for r in load("tracking")]
if tr:
    t = med([x[0] for x in tr])
    row("tracking reads", fmt_rate(t), fmt_ms(med([x[1] for x in tr])), ">= 30,000/s, p99 <= 5 ms",
        judge(t >= 30000), "" if t >= 30000 else f"short by {fmt_rate(30000 - t)}", peak("tracking"))

row("live tracking streams", "not measured", "-", "10,000 clients, RSS <= 256 MiB, fan-out p99 <= 250 ms", "-",
    "the load tool has no SSE client mode")

rss = []
for i in range(1, runs + 1):
    p = f"{out}/rest-{i}.rss"
    if os.path.exists(p):
        v = open(p).read().strip()
        if v.isdigit() and int(v) > 0:
            rss.append(int(v) / 1024)
if rss:
    m = med(rss)
    row("gateway peak RSS, REST intake", f"{m:.0f} MiB", "-", "<= 150 MiB", judge(m <= 150))

head = ("scenario", f"sustained (median of {runs})", "p99 at sustained", "peak ok/s", "target", "result", "note")
w = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
print()
for r in [head] + rows:
    print("  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)).rstrip())
print()
print("sustained = highest ramp step with >= 99.9 % ok, nothing unsent and p99 within the scenario's bound;")
print("peak ok/s = most successful answers completed within one step's time window (saturation throughput).")
print("results:", out)
PY

echo "bench: command: $0 $orig_args (runs=$runs step=$step)"
if [ "$failed_runs" -gt 0 ]; then
	echo "bench: $failed_runs load-test runs exited non-zero (see $out/*.txt)" >&2
	exit 1
fi
