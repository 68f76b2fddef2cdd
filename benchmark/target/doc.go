// Package target adapts the key-value services the benchmark can drive to
// benchmark.DB, so that one harness measures this framework's protocols and
// the systems they are compared with under the same workload:
//
//   - "paxi": a paxi-style node's REST API (package client), or its native
//     protocol (package native) through NewClient or NewNative;
//   - "paxi-original": a node of the original Paxi (GET/PUT /{key} with
//     integer keys, headers Id and Cid; a missing key is 200 with an empty
//     body);
//   - "etcd": an etcd member's v3 JSON gateway (POST /v3/kv/put and
//     /v3/kv/range with base64 keys and values).
//
// Every adapter is safe for concurrent use and reuses its connections, and
// every failure (no answer, a timeout, an unexpected status or body) is an
// error, never an empty success.
package target
