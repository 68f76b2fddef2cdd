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
// feeds the inputs among them to the local server (how, below). The
// server's answer to a stream's request goes to the client
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
// 16 KiB per socket per turn). The executor therefore splits each stream's
// input into requests (the Dialect knows where RESP requests and replies
// end; the bytes are never rewritten) and sends them two ways:
//
//   - Requests that neither depend on nor change per-connection state, never
//     block and get exactly one reply (GET, SET, INCR, LPUSH, HSET, ...: the
//     Shared frames) go, whole, to one connection shared by all streams, in
//     log order and pipelined. Redis executes one connection's requests in
//     order, so it executes these exactly in log order, and answers in that
//     order, which tells whose each reply is. A request cut across inputs
//     waits in the executor until the input that completes it.
//   - From a stream's first other request on (SELECT, MULTI, WATCH,
//     SUBSCRIBE, HELLO, CLIENT, blocking commands, scripts, inline commands,
//     malformed input, any unknown command), the stream gets a connection
//     of its own, and its bytes go there as they come; Redis keeps a query
//     buffer per connection, so a cut request is executed when its last
//     byte arrives, at the position of the input that carried it, the same
//     on every replica.
//
// Before the executor writes to a connection other than the one it wrote
// last, it waits until the server has answered every request written there
// (it counts replies), so the server never reorders inputs across
// connections. With only shared requests there is no such wait at all. A
// request on a stream's own connection that is not answered within
// Options.ReplyWait (a blocking command such as BLPOP waiting for data,
// CLIENT REPLY OFF, SUBSCRIBE's pushes) gives up the guarantee for that
// point of the log, with a warning.
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
// consensus round (shared with the others in its batch) plus, at every
// replica, a pipelined write to its server. Measured with redis-benchmark
// -t set,get -n 100000 -c 50 on a 2-core machine with three Multi-Paxos
// replicas and their Redis servers on the same cores (README, "Replicating
// Redis"): about 10-12k requests/s against 22-33k for Redis alone, i.e.
// 50-65 % less throughput and 2.5-4x the median latency. The Go process
// (three nodes and three proxies) spends about 60 us of CPU per request,
// against 11 us for Redis alone; each replica's Redis spends 3 us, since it
// reads every request from one pipelined connection. Of the Go time: the
// nodes' event loops 23 % (half of it store.Apply, which keeps every input
// in the key's version history and the client sessions), proxies reading
// clients and submitting 16 %, writing replies to clients 13 %, feeding
// Redis 11 %, the transport between nodes 21 %. APUS reports 4 % overhead
// with RDMA and one machine per replica; here three replicas share two
// cores with the clients, so the overhead is mostly the CPU the replicas
// take from each other. The store keeps every input, as does the paxos log
// (never truncated): memory grows with the bytes clients send.
package smr
