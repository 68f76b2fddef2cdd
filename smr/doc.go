// Package smr replicates an unmodified server program (Redis) through any
// protocol of paxi-style: state-machine replication of the program's
// inputs, in the manner of APUS (Wang et al., "APUS: Fast and Scalable
// Paxos on RDMA", SoCC'17; PROTOCOLS.md §8), done as a TCP proxy instead of
// interposed socket calls.
//
// # How it works
//
// Every replica runs its own copy of the server (one redis-server on its own
// loopback port, persistence off, started empty) and a Proxy, which listens
// for clients in the server's place. Each client connection is a stream of
// inputs:
//
//	Open      the client connected
//	Data      the bytes of one read of the client socket, as they came
//	Close     the client closed its side
//	Restart   a proxy started (closes the streams of its earlier incarnation)
//
// An input is a paxi.Command that writes the one key Key: the client id
// names the stream ("smr/<node>/<incarnation>/<n>"), the command id is the
// input's sequence number in its stream, and the value is the kind followed
// by the bytes. Any protocol orders such commands unchanged, and because
// they all write one key, even protocols that order only conflicting
// commands (EPaxos) order all of them: Redis is one state machine, and its
// inputs need a total order.
//
// The proxy submits a stream's inputs one at a time: the next only after
// the previous was executed. The stream is therefore in order in the log
// whatever the protocol does with concurrent commands, and a retried input
// keeps its sequence number, so it is executed once (the store's
// deduplication and the executor's sequence check both see to it). While an
// input is being ordered, the client's next bytes accumulate in the socket
// and leave as one larger input: batching per connection comes for free,
// and the protocol batches across connections.
//
// Every replica's store reports the commands it executes, in order
// (store.Store.OnApply, installed by Proxy.Protocol), and the executor
// feeds the inputs among them to the local server over one server
// connection per stream. The server's output on a stream goes to the client
// if the client is connected to this replica, and is dropped otherwise.
//
// # Framing: raw chunks, and why cutting anywhere is safe
//
// The proxy does not parse requests into commands: it forwards the bytes of
// each read. Redis keeps a query buffer per connection and executes a
// command only once its last byte has arrived; a command cut across inputs
// is executed when the input that completes it is fed. That input has one
// position in the log, the same on every replica, so the command executes
// at the same point everywhere. Partial input changes nothing else in
// Redis's state (buffers are per connection and invisible to other
// clients).
//
// A total order of inputs is not yet an order of execution: a server fed on
// many connections picks among them in its own order (Redis handles the
// ready sockets of one event-loop turn in epoll's order, and reads at most
// 16 KiB per socket per turn). So before the executor writes input to a
// connection other than the last one written, it waits until the server
// has answered every complete request written so far. That needs only
// where requests and replies end, which the Dialect gives (Redis: RESP2 and
// RESP3 framing, counted the way Redis frames them); the bytes themselves
// are never rewritten. Consecutive inputs of one connection need no wait,
// so pipelining clients keep their pipelines. A request that is not
// answered within Options.ReplyWait (a blocking command such as BLPOP
// waiting for data, CLIENT REPLY OFF, SUBSCRIBE's pushes) gives up the
// guarantee for that point of the log, with a warning.
//
// # Which replica answers
//
// The replica a client is connected to answers it, from its own server,
// once it has executed the client's input. APUS answers from the leader
// only: its interposed read() returns to the leader's program once the
// input is committed, and the backups' outputs are discarded. Here every
// replica executes every input and produces the same output for
// deterministic commands, so the local copy is as good as the leader's, and
// clients can be spread over all replicas; the output of the other copies
// is read and discarded (it must be read, or the servers would block on
// full socket buffers). The cost: an answer waits until the local replica
// has executed everything before the input, so a lagging replica answers
// late, never wrong.
//
// # Non-deterministic commands
//
// Ordering inputs does not make a non-deterministic program deterministic
// (PROTOCOLS.md §8.6, pitfall 4); APUS has the same limit. Redis commands
// whose effect depends on randomness or time (SPOP, SRANDMEMBER with
// writes, RANDOMKEY-driven scripts, EXPIRE/TTL and key expiry, TIME, a
// script calling math.random in old Redis, CLIENT ID and INFO) can leave
// the copies different or answer differently: the client sees its own
// replica's answer and the other answers are discarded, so nobody notices
// until the copies are compared (DEBUG DIGEST). Redis's own replication
// avoids this by shipping effects (SPOP becomes SREM); an input-replicating
// proxy cannot. Keep the workload to deterministic commands, or compare
// digests.
//
// # Faults and recovery
//
// A client whose replica dies reconnects to another one (redis-benchmark
// does not; the tests' clients do). An input the client saw answered was
// executed by its replica, hence committed, hence in the log of a majority:
// no acknowledged write is lost. Inputs of the dead replica's connections
// that were committed are executed everywhere; its connections stay open
// on the other replicas' servers until the proxy restarts and announces a
// new incarnation.
//
// A replica that restarts starts a fresh, empty server and rejoins with an
// empty protocol state; the protocol's catch-up replays the whole log to it
// (the paxos log is never truncated), and its executor feeds every input
// again, so its server reaches the same state. This is replay, not state
// transfer: it costs time proportional to the history, and it relies on the
// protocol being able to bring an empty replica up to date. (paxi-style's
// runtime keeps protocol state in memory, so a restarted node has forgotten
// its promises: it is safe in the common case of one restart, not against
// every interleaving of failures.) If a replica's server dies on its own,
// the executor cannot follow the log any more: the proxy fails (Failed) and
// the replica must be restarted whole.
//
// # Costs
//
// Every input is a command in the log, so each client request costs one
// consensus round (shared with the others in its batch) plus a local round
// trip to the server; the executor's wait when it switches connections
// serialises the server's work per replica. The store keeps every input
// in its version history and the paxos log keeps it too: memory grows with
// the bytes clients send, as the framework's in-memory protocols do.
package smr
