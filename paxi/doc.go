// Package paxi is the core of paxi-style: node IDs, ballots, commands,
// messages, typed handler registration, the Env a protocol lives in, and the
// cluster configuration.
//
// A protocol is a deterministic, single-threaded state machine. It receives
// every input through Replica.Step (peer messages, client Requests, and its
// own timers, which come back as messages) and acts on the world only
// through Env: Send, Broadcast, Reply, After, Store, Rand, Now, Logger. It
// never starts goroutines, reads the wall clock or touches the network. Two
// drivers run the same protocol code: the production runtime (package node),
// which pairs each replica with a real transport and a REST API, and the
// deterministic simulator, which replays a whole cluster from one seed.
//
// Writing a protocol takes three steps:
//
//  1. Declare the messages as plain structs named after the paper (P1a,
//     P2b, PreAccept, ...) with exported fields and a deterministic String.
//
//  2. Write a struct holding the protocol state and the Env, and one handler
//     per message: func (p *Proto) handleP1a(from paxi.ID, m P1a).
//
//  3. Register the handlers on a Router in the constructor and forward Step
//     to it:
//
//     func New(env paxi.Env) (paxi.Replica, error) {
//     p := &Proto{env: env}
//     paxi.Handle(&p.router, p.handleP1a)
//     paxi.Handle(&p.router, p.handleRequest)
//     return p, nil
//     }
//
//     func (p *Proto) Step(from paxi.ID, m paxi.Message) error { return p.router.Step(from, m) }
//
// Then add a paxi.Protocol entry for it to the table in package protocols.
// The package protocols/paxos is the worked example.
package paxi
