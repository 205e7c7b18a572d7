#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs redis-server when it is
# missing (Debian package), starts it with AOF on a free loopback port, runs
# `go test -race ./...` with its address in the environment, and stops it.
# Integration tests FAIL (not skip) without it: ERPGATE_REDIS_REQUIRED=1.
#
# Then it runs the integration tests of the packages that touch Redis again on
# a local Redis Cluster (scripts/redis-cluster.sh: 3 primaries + 3 replicas,
# AOF on), the same tests with ERPGATE_REDIS_URL=redis+cluster://... set
# (internal/redistest gives them a cluster client). ERPGATE_TEST_CLUSTER=0
# skips that pass.
#
# Extra arguments go to `go test` (e.g. scripts/test.sh -run Intake).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null 2>&1; then
	echo "test.sh: installing redis-server (Debian package)" >&2
	sudo_=""
	[ "$(id -u)" = 0 ] || sudo_="sudo"
	$sudo_ apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq redis-server >/dev/null
fi

free_port() {
	local p
	for _ in $(seq 1 200); do
		p=$((20000 + RANDOM % 20000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	echo "test.sh: no free port found" >&2
	return 1
}

# free_cluster_base prints a base port whose six cluster ports and their
# bus ports (+10000) are all free.
free_cluster_base() {
	local b i p free
	for _ in $(seq 1 50); do
		b=$((20000 + RANDOM % 20000))
		free=1
		for i in 0 1 2 3 4 5; do
			for p in $((b + i)) $((b + i + 10000)); do
				if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then free=0; fi
			done
		done
		[ "$free" = 1 ] && { echo "$b"; return 0; }
	done
	echo "test.sh: no free ports for a cluster" >&2
	return 1
}

port=$(free_port)
dir=$(mktemp -d)
cleanup() {
	redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
	rm -rf "$dir"
}
cdir=""
cleanup_cluster() {
	if [ -n "$cdir" ]; then
		scripts/redis-cluster.sh stop "$cdir" >/dev/null 2>&1 || true
		rm -rf "$cdir"
	fi
}
trap 'cleanup; cleanup_cluster' EXIT
redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --appendonly yes --appendfsync everysec --stream-node-max-bytes 512 \
	--save '' --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
for _ in $(seq 1 100); do
	redis-cli -p "$port" ping >/dev/null 2>&1 && break
	sleep 0.1
done
redis-cli -p "$port" ping >/dev/null || { echo "test.sh: redis-server did not start" >&2; cat "$dir/redis.log" >&2; exit 1; }

echo "test.sh: redis-server (AOF) on 127.0.0.1:$port" >&2
export ERPGATE_REDIS_ADDR="127.0.0.1:$port" ERPGATE_REDIS_REQUIRED=1
# internal/streamgroup's TestGroupOnCluster starts a cluster of its own in
# this pass: on free ports, not its default 32000.
ERPGATE_TEST_CLUSTER_PORT=$(free_cluster_base)
export ERPGATE_TEST_CLUSTER_PORT
go test -race -count=1 "$@" ./...

[ "${ERPGATE_TEST_CLUSTER:-1}" = 0 ] && exit 0
# The cluster pass: the packages whose tests use redistest.Universal. The
# cluster's six ports (and their bus ports, +10000) must be free.
cbase=$(free_cluster_base)
cdir=$(mktemp -d)
seeds=$(scripts/redis-cluster.sh start "$cbase" "$cdir")
echo "test.sh: redis cluster (AOF, 3 primaries + 3 replicas) on $seeds" >&2
start=$(date +%s)
export ERPGATE_REDIS_URL="redis+cluster://$seeds"
go test -race -count=1 "$@" ./internal/streamgroup/... ./store/... ./erp/... ./tracking/... ./gateway/...
# Of cmd/gateway only the tests through run() that use the test Redis (the
# rest do not touch it and ran above).
go test -race -count=1 -run '^(TestBackoutDrill|TestSIGKILLRestartTakesOverAtOnce|TestTrackingCacheFollowsTheFeed|TestSIGKILLMidLoadLosesNothing)$' "$@" ./cmd/gateway/
echo "test.sh: cluster pass took $(($(date +%s) - start))s" >&2
