// Package paxos is Multi-Paxos: a leader orders client commands in a log
// of slots, each slot decided by one instance of Paxos.
//
// Paper: Leslie Lamport, "Paxos Made Simple", ACM SIGACT News 32(4), 2001,
// §3 (implementing a state machine); Robbert van Renesse and Deniz
// Altinbuken, "Paxos Made Moderately Complex", ACM Computing Surveys 47(3),
// 2015, for the leader, acceptor and replica roles in one process.
//
// # Message flow
//
//	message    handler          sends                       when
//	Request    handleRequest    P2a (leader) | Request      a client command; followers forward it to the leader
//	P1a        handleP1a        P1b                         a node campaigns with a higher ballot
//	P1b        handleP1b        P2a, P3, Heartbeat          promise (or rejection) with the acceptor's log; a Q1 of promises makes the sender leader
//	P2a        handleP2a        P2b                         leader asks to accept a batch of commands in a slot
//	P2b        handleP2b        P3                          acceptance (or rejection); a Q2 of acceptances commits the slot
//	P3         handleP3         CatchUp                     commit; carries the commands only for nodes that did not accept them
//	Heartbeat  handleHeartbeat  CatchUp                     every heartbeat interval from the leader: alive, log length, committed prefix
//	CatchUp    handleCatchUp    P3                          a follower asks for committed slots it is missing
//	tick       handleTick       Heartbeat, P2a, P1a, Request local timer: heartbeats and retransmission (leader), failure detection (others)
//
// # Quorums
//
// Phase 1 waits for a Q1 and phase 2 for a Q2 of the quorum.Pair given to
// NewWithQuorums; New uses majorities for both. Any pair in which every Q1
// meets every Q2 is safe, which is what Flexible Paxos reuses.
//
// # What this implementation adds to, or changes in, the paper
//
//   - Leader election. The paper leaves it open. A leader sends a Heartbeat
//     every heartbeat interval; a node that hears nothing from its leader for
//     a timeout drawn from [ElectionTimeout, 2*ElectionTimeout) runs phase 1
//     with a higher ballot. A node that receives a request while it knows no
//     leader runs phase 1 at once.
//   - P1b reports committed entries too, flagged as such, and the new leader
//     starts new slots above every slot reported (fix 1 of PROTOCOLS.md §1.6:
//     Paxi skipped committed entries, so a new leader could reuse a slot).
//   - A new leader re-proposes every uncommitted slot it learnt about at its
//     own ballot with the value of the highest ballot reported, and fills
//     holes with no-ops (fixes 2 and 3), so execution never stalls.
//   - Batching and pipelining. A leader keeps up to Pipeline slots in flight;
//     requests that arrive while the pipeline is full wait and are proposed
//     together, up to BatchMax per slot. At low load every request gets its
//     own slot at once; under load batches grow by themselves.
//   - Retransmission. A leader re-sends P2a for a slot not committed within
//     half an election timeout to the acceptors that have not accepted it;
//     followers that missed a P3 learn the committed prefix from heartbeats
//     and ask for missing slots (CatchUp). One lost message never wedges the
//     cluster, as it did in Paxi.
//   - Client requests are answered by the node that received them, when it
//     executes the command, not by the leader: a forwarded request therefore
//     needs no reply message, and the receiving node keeps the request until
//     it executes, re-sending it to the new leader if the old one fails. A
//     command sent twice this way is executed once: the store deduplicates
//     by (client id, command id).
//   - Reads are commands in the log, so they are linearizable. There are no
//     leases and no local reads.
//   - Everything is in memory (crash-stop). The log is never truncated.
package paxos
