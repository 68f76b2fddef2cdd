// Package benchmark generates client load against a key-value service and
// measures it, the way the original Paxi's benchmarker does, with the
// mistakes that make its numbers hard to trust fixed.
//
// The pieces:
//
//   - Config is the "benchmark" section of a cluster configuration (Paxi's
//     field names: T, N, K, W, Throttle, Concurrency, Distribution and the
//     distributions' parameters), validated field by field.
//   - Generator draws one client's keys and operations from the configured
//     distribution (uniform, order, conflict, normal with a mean per zone
//     that may move, zipfian, exponential), deterministically from a seed
//     and fast enough never to be the bottleneck.
//   - Run drives Concurrency clients, closed-loop or on a throttle's
//     schedule, each against the Target (zone, node, DB) its index maps
//     to, and records every request into preallocated per-client buffers.
//     A failed request is an error, never a success, and requests in
//     flight at the end are waited for. Under a throttle latency is
//     measured from each request's scheduled start, so a stall is not
//     hidden by coordinated omission.
//   - Result writes a latency file (CSV, one row per request) and a
//     history (history.Operation JSON lines) for the linearizability
//     checker, and summarises into Stats (throughput, mean, p50, p95, p99,
//     p99.9, max) overall and per zone, printed as a table or written as
//     CSV and JSON.
//   - Sweep raises concurrency until throughput stops rising or latency
//     climbs, and WriteSweepCSV writes the latency-versus-throughput curve
//     that package benchmark/plot draws.
//
// The package knows nothing of nodes or protocols: it drives any DB (see
// package benchmark/target for paxi-style, original Paxi and etcd clients),
// which keeps it usable as a library and lets the configuration package
// (paxi) embed its Config.
package benchmark
