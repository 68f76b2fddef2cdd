// Package wpaxos is WPaxos: wide-area Paxos with a leader per object,
// flexible grid quorums over zones, and objects that move to the zone that
// uses them.
//
// Paper: Ailidani Ailijiang, Aleksey Charapko, Murat Demirbas and Tevfik
// Kosar, "WPaxos: Wide Area Network Flexible Consensus", IEEE Transactions
// on Parallel and Distributed Systems 31(1), 2020 (arXiv:1703.08905).
//
// # Structure
//
// Every object (key) has its own Multi-Paxos instance: its own ballot, log
// and owner (leader). The instance is package paxos unchanged, run in an
// Env decorator (keyEnv) that wraps each message it sends with the key and
// keeps its timers on the node's timer list; the node's handlers unwrap
// messages and hand them to the key's instance, made on the object's first
// message. Stealing an object is phase 1 of its instance with a higher
// ballot; the thief then re-proposes what it learnt and fills holes with
// no-ops before serving new requests, as any new Paxos leader does.
//
// # Message flow
//
//	message       handler             sends                          when
//	Request       handleRequest       Forward, Prepare, Accept       a client of this node: the owner proposes, others forward to the owner or steal
//	Forward       handleForward       Forward, Accept, LeaderChange  a request on its way to the owner; the owner's policy may hand the object over
//	Prepare       instance (P1a)      Promise                        phase 1: a node steals (or first takes) an object
//	Promise       instance (P1b)      Accept, Commit, Heartbeat      a Q1 of promises makes the sender owner
//	Accept        instance (P2a)      Accepted                       phase 2 for a slot of the object's log
//	Accepted      instance (P2b)      Commit                         a Q2 of acceptances commits the slot
//	Commit        instance (P3)       CatchUp                        a slot is chosen; every node applies it
//	Heartbeat     instance            CatchUp                        owner: log length and committed prefix, while the object changes
//	CatchUp       instance            Commit                         a node asks the owner for committed slots it lacks
//	LeaderChange  handleLeaderChange  Prepare                        the owner's policy asks a remote node to take the object over
//	tick          handleTick          Prepare, Accept, Heartbeat     local timer: fires the objects' timers, steals objects whose requests wait too long
//
// "instance" is the object's paxos.Paxos, reached through the node's
// handlers, which unwrap the message; see package paxos for its handlers.
//
// # Quorums
//
// Zones are the rows of a grid. With fz the number of zone failures to
// tolerate (configuration "wpaxos": {"fz": ...}), phase 1 (Q1) waits for a
// majority of the nodes in each of Z-fz zones and phase 2 (Q2) for a
// majority in each of fz+1 zones (quorum.FGrid). Any Q1 meets any Q2:
// together they name Z+1 zones, so they share a zone, and two majorities
// of it share a node. With fz = 0 phase 2 stays in the owner's zone, so a
// commit costs a round trip inside the zone, and a steal needs every zone;
// with fz = 1 a commit needs a second zone, and objects can still move
// when a whole zone is down. Per-zone majorities mean each zone tolerates
// fn = (l-1)/2 failed nodes out of its l.
//
// # Migration policy
//
// "wpaxos": {"policy": ...} chooses when an object moves:
//
//	consecutive  the owner sends LeaderChange to a remote node after threshold (default 3) requests
//	             in a row from that node's zone; a request from any other zone restarts the count
//	immediate    a node steals an object on its clients' first access, unless the object's ballot
//	             changed less than a randomised half to one election timeout ago
//	none         objects stay where they were first used
//
// Under every policy the first node to use an object takes it (phase 1 on
// ballot 0), and a node whose clients' requests for an object have waited
// one to two election timeouts without progress takes the object over: its
// owner has failed or is cut off.
//
// # What this implementation adds to, or changes in, the paper
//
//   - Per-object instances do not elect on silence (paxos.Options.Passive):
//     an idle object needs no leader, and the paper moves objects on access.
//     Owner failure is detected per request instead (see above), so only
//     objects someone uses are moved, by whoever uses them.
//   - An owner sends an object's heartbeat (the log's committed prefix, so
//     that nodes that lost a Commit catch up) every tick while the object
//     changes, then at intervals growing to 32 ticks. A thousand idle objects
//     cost a few messages a second, and their timers share the node's one
//     runtime timer (an object's timer fires up to one heartbeat late).
//   - Requests are answered by the node the client waits at, when it applies
//     the command, as in package paxos; a forwarded request therefore needs
//     no reply message. Forward carries the sender's ballot, which the
//     receiver owns or owned; a receiver that no longer owns the object
//     knows a higher ballot and passes the request to its owner, so a chain
//     of forwards follows increasing ballots and ends. A hop count (limit 8)
//     guards it too; the node the client waits at re-sends a dropped request
//     or steals the object.
//   - On preemption the old owner hands its queued requests to the new one
//     (package paxos's step-down); a request it proposed that was not chosen
//     still waits at the node its client talks to, which re-sends it after
//     two election timeouts or takes the object over (pitfall 3).
//   - The immediate policy backs off after every ownership change (a
//     randomised half to one election timeout), and the consecutive policy
//     only counts requests in a row from one zone: two zones sharing a hot
//     object do not steal it back and forth forever (PROTOCOLS.md §4.5,
//     pitfall 2).
//   - Paxi's fz = 0 used a different grid (one node of every zone for Q1,
//     every node of the owner's zone for Q2), so one failed node stopped its
//     zone's commits; here every fz uses per-zone majorities (pitfall 1).
//   - Per-object state is never collected (pitfall 6): dropping an
//     acceptor's promise or log would need snapshots and a low-water mark,
//     which package paxos does not have. An object costs a Paxos instance
//     (about 2 KB idle; BenchmarkIdleObject) on every node that has seen it.
//   - Multi-object commands are out of scope, as in the paper.
//   - Crash recovery: each object's promise, accepted log and applied prefix
//     are durable (package paxos's durable state, per object).
package wpaxos
