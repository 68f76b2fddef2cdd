#!/usr/bin/env bash
# perf-table.sh prints the performance table of the README: the floor (REST and
# native), and Multi-Paxos on 3 and 5 nodes, each node in its own process,
# through REST and through the native protocol, with clients, ops/s, p50, p99,
# the cores each process kept busy, the CPU per operation and the ratio to the
# floor measured in the same run.
#
# Usage: scripts/perf-table.sh [seconds per run, default 10] [first port, default 24000]
#
# Concurrency per row is where a sweep (paxi sweep) found each setup saturated
# on a 2-core machine; set REST_C, NATIVE_C to change it.
set -euo pipefail

T=${1:-10}
PORT=${2:-24000}
REST_C=${REST_C:-128}
NATIVE_C=${NATIVE_C:-256}
PROTOCOL=${PROTOCOL:-paxos}

cd "$(dirname "$0")/.."
work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/paxi" ./bin/paxi

# config N writes an N-node loopback configuration and prints its path.
config() {
	local n=$1 f="$work/cluster-$1.json" sep
	{
		printf '{\n  "protocol": "%s",\n  "transport": "tcp",\n' "$PROTOCOL"
		for section in address http_address native_address; do
			printf '  "%s": {' "$section"
			sep=""
			for i in $(seq 1 "$n"); do
				case $section in
				address) a="127.0.0.1:$((PORT + i))" ;;
				http_address) a="http://127.0.0.1:$((PORT + 100 + i))" ;;
				native_address) a="127.0.0.1:$((PORT + 200 + i))" ;;
				esac
				printf '%s"1.%d": "%s"' "$sep" "$i" "$a"
				sep=", "
			done
			printf '},\n'
		done
		printf '  "benchmark": {"T": "%ss", "K": 1000, "W": 0.5, "Size": 64, "Distribution": "uniform"}\n}\n' "$T"
	} >"$f"
	echo "$f"
}

# cluster N starts N node processes with configuration $cfg; their PIDs go
# in pids.
cluster() {
	local n=$1
	config "$n" >/dev/null
	cfg="$work/cluster-$n.json"
	pids=()
	for i in $(seq 1 "$n"); do
		"$work/paxi" server -config "$cfg" -id "1.$i" -log-level warn </dev/null >>"$work/server.log" 2>&1 &
		pids+=($!)
	done
}

stop() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	pids=()
}

for n in 3 5; do
	cluster "$n"
	echo "== $PROTOCOL, $n nodes (one process each), clients at the leader"
	"$work/paxi" floor -config "$cfg" -cluster -client rest -c "$REST_C" -label "$PROTOCOL-$n-rest" 2>/dev/null
	"$work/paxi" floor -config "$cfg" -cluster -client native -c "$NATIVE_C" -label "$PROTOCOL-$n-native" 2>/dev/null | grep -v '^floor-rest'
	echo "== one client"
	"$work/paxi" bench -config "$cfg" -c 1 -label "$PROTOCOL-$n-rest" 2>/dev/null | sed -n 2p
	"$work/paxi" bench -config "$cfg" -c 1 -client native -label "$PROTOCOL-$n-native" 2>/dev/null | sed -n 2p
	stop
done
