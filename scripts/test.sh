#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs redis-server when it is
# missing (Debian package), starts it with AOF on a free loopback port, runs
# `go test -race ./...` with its address in the environment, and stops it.
# Integration tests FAIL (not skip) without it: ERPGATE_REDIS_REQUIRED=1.
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

port=$(free_port)
dir=$(mktemp -d)
cleanup() {
	redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap cleanup EXIT
redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --appendonly yes --appendfsync everysec --stream-node-max-bytes 512 \
	--save '' --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log"
for _ in $(seq 1 100); do
	redis-cli -p "$port" ping >/dev/null 2>&1 && break
	sleep 0.1
done
redis-cli -p "$port" ping >/dev/null || { echo "test.sh: redis-server did not start" >&2; cat "$dir/redis.log" >&2; exit 1; }

echo "test.sh: redis-server (AOF) on 127.0.0.1:$port" >&2
export ERPGATE_REDIS_ADDR="127.0.0.1:$port" ERPGATE_REDIS_REQUIRED=1
go test -race -count=1 "$@" ./...
