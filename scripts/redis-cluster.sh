#!/usr/bin/env bash
# A local Redis Cluster on loopback for tests and drills: 3 primaries + 3
# replicas, AOF on (appendfsync everysec), one directory per node.
#
#   scripts/redis-cluster.sh start BASEPORT DIR   # nodes on BASEPORT..BASEPORT+5
#   scripts/redis-cluster.sh stop DIR
#   scripts/redis-cluster.sh node PORT DIR        # (re)start one node of DIR, e.g. after a drill killed it
#
# Cluster nodes also listen on port + 10000 (the cluster bus), so BASEPORT must
# be at most 55530. On success `start` prints the seed list
# (127.0.0.1:p1,127.0.0.1:p2,…) on stdout once every replica is in sync with
# its primary; logs stay in DIR/<port>/redis.log. A node restarted with `node`
# rejoins with its nodes.conf and AOF (an old primary comes back as a replica
# of the one that replaced it).
set -euo pipefail

# start_node PORT DIR: one node, daemonized, with the cluster's settings.
start_node() {
	local p=$1 dir=$2
	mkdir -p "$dir/$p"
	redis-server --port "$p" --bind 127.0.0.1 --dir "$dir/$p" \
		--cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 2000 \
		--appendonly yes --appendfsync everysec --save '' --stream-node-max-bytes 512 \
		--daemonize yes --pidfile "$dir/$p/redis.pid" --logfile "$dir/$p/redis.log"
}

cmd=${1:-}
case "$cmd" in
start)
	base=${2:?BASEPORT}
	dir=${3:?DIR}
	if [ "$base" -gt 55530 ]; then
		echo "redis-cluster.sh: BASEPORT must be <= 55530 (bus port = port + 10000)" >&2
		exit 2
	fi
	mkdir -p "$dir"
	seeds=()
	for i in 0 1 2 3 4 5; do
		p=$((base + i))
		start_node "$p" "$dir"
		seeds+=("127.0.0.1:$p")
	done
	for p in "${seeds[@]}"; do
		for _ in $(seq 1 100); do
			redis-cli -p "${p##*:}" ping >/dev/null 2>&1 && break
			sleep 0.1
		done
	done
	redis-cli --cluster create "${seeds[@]}" --cluster-replicas 1 --cluster-yes >"$dir/create.log" 2>&1 || {
		cat "$dir/create.log" >&2
		exit 1
	}
	# Wait until every node agrees the cluster is ok.
	for _ in $(seq 1 100); do
		ok=1
		for p in "${seeds[@]}"; do
			redis-cli -p "${p##*:}" cluster info 2>/dev/null | grep -q 'cluster_state:ok' || ok=0
		done
		[ "$ok" = 1 ] && break
		sleep 0.2
	done
	[ "$ok" = 1 ] || { echo "redis-cluster.sh: cluster did not become ok" >&2; exit 1; }
	# Wait until every replica has synced with its primary: before that a
	# WAIT for one replica times out and a killed primary has no successor.
	for _ in $(seq 1 150); do
		synced=0
		for p in "${seeds[@]}"; do
			redis-cli -p "${p##*:}" info replication 2>/dev/null | grep -q 'master_link_status:up' && synced=$((synced + 1))
		done
		[ "$synced" = 3 ] && break
		sleep 0.2
	done
	[ "$synced" = 3 ] || { echo "redis-cluster.sh: replicas did not sync with their primaries" >&2; exit 1; }
	(IFS=,; echo "${seeds[*]}")
	;;
node)
	start_node "${2:?PORT}" "${3:?DIR}"
	;;
stop)
	dir=${2:?DIR}
	for pidf in "$dir"/*/redis.pid; do
		[ -f "$pidf" ] || continue
		kill "$(cat "$pidf")" 2>/dev/null || true
	done
	;;
*)
	echo "usage: $0 start BASEPORT DIR | stop DIR | node PORT DIR" >&2
	exit 2
	;;
esac
