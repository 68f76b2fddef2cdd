// Package transport moves messages between the nodes of a cluster: the one
// place in paxi-style that touches sockets. Protocols never see it; the node
// runtime drains each replica's outbox into a Transport and feeds Recv back
// into Replica.Step.
//
// Three transports implement the same contract (Transport):
//
//   - TCP: length-prefixed frames on one outgoing connection per peer,
//     dialled lazily, batched, and redialled with back-off. The default.
//   - UDP: one datagram per message; lossy, size-limited (MaxDatagramSize).
//   - ChanNetwork: in-process channels for clusters inside one process;
//     messages are passed by value, not encoded.
//
// New picks one from paxi.Config.Transport.
//
// The contract, in short: Send never blocks on the network (each peer has
// a bounded queue; when it is full the message is dropped with
// ErrQueueFull, because consensus protocols retransmit anyway and a node
// must not stall on one slow peer); delivery is best-effort but FIFO per
// link; Recv is closed by Close; messages to self are delivered locally.
// Package transporttest checks every transport against this contract.
//
// Codec is the wire format: a registry of message types numbered in
// registration order (paxi.Request and paxi.Reply first) and msgpack
// bodies. It replaces the original Paxi's gob registration in init
// functions, and decodes hostile input without panicking or allocating
// more than the input justifies.
//
// Faulty wraps any Transport with fault injection (crash, drop, slow,
// flaky, static latency) for the admin API and for experiments. Faults are
// a wrapper, in the spirit of hashicorp/raft's fuzzy transport hooks, so
// the socket code has no fault flags in it and no data race between fault
// timers and Send, which the original Paxi had.
//
// None of this is deterministic: goroutines and sockets schedule as they
// will. Reproducible runs are the simulator's job, which does not use
// this package.
package transport
