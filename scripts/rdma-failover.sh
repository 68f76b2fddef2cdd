#!/usr/bin/env bash
# rdma-failover.sh compares Mu on the shm RDMA backend (one process per node,
# one-sided verbs through shared memory) with Multi-Paxos over loopback TCP,
# measured the same way: a 3-node cluster of real processes, one client's
# latency (REST and native), then the leader process killed with SIGKILL
# under a 4-client load at a follower, and the longest pause in completed
# requests around the kill (the fail-over time as clients see it).
#
# Usage: scripts/rdma-failover.sh [protocols, default "paxos mu"] [first port, default 23000]
set -euo pipefail

PROTOCOLS=${1:-paxos mu}
PORT=${2:-23000}

cd "$(dirname "$0")/.."
work=$(mktemp -d)
shm=${SHM_DIR:-/dev/shm}
pids=()
stop() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	pids=()
}
# A killed node leaves its shared-memory files behind (a restarted node
# would reuse them); remove the ones this run made.
touch "$work/start"
cleanup() {
	stop
	find "$shm" -maxdepth 1 -name 'paxi-*' -newer "$work/start" -delete 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT
go build -o "$work/paxi" ./bin/paxi

for proto in $PROTOCOLS; do
	cfg="$work/$proto.json"
	rdma=""
	case $proto in mu | apus) rdma='"rdma": {"backend": "shm", "dir": "'"$shm"'"},' ;; esac
	cat >"$cfg" <<JSON
{
  "protocol": "$proto",
  "address": {"1.1": "127.0.0.1:$((PORT + 1))", "1.2": "127.0.0.1:$((PORT + 2))", "1.3": "127.0.0.1:$((PORT + 3))"},
  "http_address": {"1.1": "http://127.0.0.1:$((PORT + 101))", "1.2": "http://127.0.0.1:$((PORT + 102))", "1.3": "http://127.0.0.1:$((PORT + 103))"},
  "native_address": {"1.1": "127.0.0.1:$((PORT + 201))", "1.2": "127.0.0.1:$((PORT + 202))", "1.3": "127.0.0.1:$((PORT + 203))"},
  $rdma
  "benchmark": {"T": "5s", "K": 1000, "W": 1, "Size": 64, "Distribution": "uniform"}
}
JSON
	declare -A pid=()
	for id in 1.1 1.2 1.3; do
		"$work/paxi" server -config "$cfg" -id "$id" -log-level warn </dev/null >>"$work/server.log" 2>&1 &
		pid[$id]=$!
		pids+=($!)
	done
	sleep 3
	echo "== $proto: one client, 64-byte writes (REST, then native)"
	"$work/paxi" bench -config "$cfg" -c 1 2>/dev/null | sed -n 2p
	"$work/paxi" bench -config "$cfg" -c 1 -client native 2>/dev/null | sed -n 2p
	leader=$(curl -s "http://127.0.0.1:$((PORT + 102))/status" | sed -n 's/.*"leader":"\([0-9.]*\)".*/\1/p')
	at=1.2
	[ "$leader" = 1.2 ] && at=1.3
	"$work/paxi" bench -config "$cfg" -c 4 -T 10s -timeout 5s -at "$at" -o "$work/$proto-fo" >"$work/$proto-fo.out" 2>&1 &
	bench=$!
	sleep 4
	killed=$(date +%s%N)
	kill -9 "${pid[$leader]}"
	wait "$bench" || true
	echo "== $proto: leader $leader killed with 4 clients at $at"
	grep -E "^$proto +all" "$work/$proto-fo.out" || true
	# The longest pause between two completed requests from 0.2 s before
	# the kill to 5 s after it.
	awk -F, -v k="$killed" 'NR > 1 && $12 == "" { print $10 }' "$work/$proto-fo/latency.csv" | sort -n |
		awk -v k="$killed" 'NR > 1 && prev > k - 2e8 && prev < k + 5e9 && $1 - prev > gap { gap = $1 - prev; at = prev - k }
			{ prev = $1 } END { printf "longest pause in completions: %.1f ms, starting %.1f ms after the kill\n", gap / 1e6, at / 1e6 }'
	stop
	unset pid
	sleep 1
done
