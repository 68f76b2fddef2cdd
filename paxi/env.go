package paxi

import (
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/ailidani/paxi-style/store"
)

// TimerID names a timer set with Env.After, for Env.Cancel.
type TimerID uint64

// Env is everything a protocol may touch. The real runtime and the
// deterministic simulator are two implementations of it, so a protocol that
// uses nothing else (no goroutines, clocks, sockets or global randomness) runs
// unchanged in both, and a simulated run is reproducible from its seed.
//
// Env methods are called only from inside Replica.Step (and the Factory), on
// the one goroutine that drives the replica. Messages sent during a Step are
// handed to the network when the call returns or later; none is delivered,
// not even to this node, before Step returns.
type Env interface {
	// ID is this node.
	ID() ID
	// Config is the cluster configuration, validated. Do not modify it.
	Config() *Config
	// Peers lists every node of the cluster including this one, sorted.
	Peers() []ID

	// Send sends m to node to. Delivery is not guaranteed: the network may
	// lose, delay, duplicate or reorder messages.
	Send(to ID, m Message)
	// Broadcast sends m to every node but this one, in ID order.
	Broadcast(m Message)
	// Multicast sends m to each of the given nodes.
	Multicast(to []ID, m Message)
	// MulticastZone sends m to every node of zone z but this one.
	MulticastZone(z int, m Message)
	// Reply answers a client request, wherever its client waits: locally, or
	// at the node the request was forwarded from.
	Reply(req Request, rep Reply)

	// After delivers m to this replica's Step, with from = ID(), once d has
	// passed, unless the timer is cancelled first.
	After(d time.Duration, m Message) TimerID
	// Cancel stops a timer. Cancelling a fired or unknown timer does nothing.
	Cancel(id TimerID)
	// Now is the current time: the wall clock in the runtime, virtual time
	// in the simulator.
	Now() time.Time
	// Rand is this node's random source, seeded by the driver.
	Rand() *rand.Rand

	// Store is the node's key-value state machine.
	Store() *store.Store
	// Logger is the node's structured logger.
	Logger() *slog.Logger
}

// Replica is a protocol instance on one node: a deterministic state machine
// whose only input is Step.
type Replica interface {
	// Step handles one message: a protocol message from a peer, a Request
	// from a client (from = the node that received it), or a timer message
	// (from = this node). It must not block. An error means the message was
	// not understood; broken protocol invariants panic instead.
	Step(from ID, m Message) error
}

// Factory creates a protocol's replica on one node.
type Factory func(env Env) (Replica, error)

// Protocol describes one protocol for the protocol table.
type Protocol struct {
	// Name is what configurations and flags call it ("paxos").
	Name string
	// New creates a replica.
	New Factory
	// Messages lists a zero value of every message type the protocol sends
	// between nodes, for the transport codec. Request and Reply are always
	// registered and need not be listed. The order is the wire encoding:
	// append new types at the end.
	Messages []Message
	// Validate checks the protocol's own configuration rules (nil: none).
	Validate func(*Config) error
	// Recover, if set, recreates a replica after a crash from the state
	// its predecessor's Durable method returned: the crash-recovery model.
	// Protocols without it are crash-stop; a simulated crash then only
	// pauses them.
	Recover func(env Env, durable any) (Replica, error)
	// Check, if set, verifies protocol-specific properties across the
	// replicas at the end of a simulated run, e.g. that EPaxos replicas
	// committed every instance with the same attributes. The simulator's
	// test harness calls it next to the generic checkers.
	Check func(replicas map[ID]Replica) error
	// RDMA is set for protocols that replicate with one-sided RDMA: their
	// Env must implement the optional capability of package
	// transport/rdma (rdma.Env). The simulator then gives every node an
	// emulated NIC by itself (sim.Network.RDMA), so sim.Run and the
	// table-wide simulation test run them unchanged.
	RDMA bool
}

// Durable is implemented by replicas that keep part of their state on
// stable storage, e.g. a Paxos acceptor's promised ballot and accepted log.
// Durable returns that state as it would be on disk now; the drivers assume
// every handler persists before its messages leave, so what Durable returns
// at a crash is what survives it. The crashed replica is discarded right
// after the call, so it may hand over its own data structures. The store
// (Env.Store) is durable too: the restarted replica finds it as it was, and
// its durable state must say how far the store has applied.
type Durable interface {
	Durable() any
}
