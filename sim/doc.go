// Package sim runs a whole cluster of protocol replicas deterministically in
// one goroutine: a virtual clock, an event queue ordered by (time, sequence)
// and random choices drawn from one seed. It drives the same protocol code as
// the production runtime (package node) through its own paxi.Env, so a
// simulated run of any protocol is reproducible from its seed, and fast:
// virtual time jumps from event to event.
package sim
