// Package store is the replicated state machine of paxi-style: a deterministic,
// multi-version key-value store.
//
// Every protocol applies the commands it has ordered to a Store, in order. The
// store keeps the full version history of every key (which command wrote which
// value), so that a consensus checker can compare replicas position by position,
// and a per-client session table, so that a command retried by a client or
// proposed twice after a leader change takes effect only once.
//
// A Store is not safe for concurrent use: it belongs to the single goroutine
// that drives a replica, like the replica itself.
package store
