// Package wankeeper is WanKeeper: hierarchical, token-based coordination
// for wide-area deployments. Each zone replicates a log among its own nodes
// under a zone leader (level 1); one zone is the master zone, and its leader,
// the master, owns a token per key and hands tokens to the zones that use a
// key exclusively (level 2). A zone holding a key's token orders that key's
// commands in its own log, at intra-zone latency; commands on other keys are
// relayed to the master and ordered in the master zone's log.
//
// Paper: Ailidani Ailijiang, Aleksey Charapko, Murat Demirbas and Tevfik
// Kosar, "WanKeeper: Efficient Coordination at WAN scale", ICDCS 2017; the
// Paxi sketch (SIGMOD 2019 artifact) for the message names. PROTOCOLS.md §5
// lists the sketch's pitfalls this implementation avoids.
//
// # Logs, tokens and key slots
//
// Every zone z has a log, a Multi-Paxos log replicated by a majority of z's
// nodes. Every node is an acceptor of its zone's log and a learner of every
// other zone's: a zone leader sends each Commit to every node, and every
// node applies every log in slot order. A slot holds a batch of records:
//
//	record    logged by        effect when applied (at every node alike)
//	Cmd       any zone         if the zone holds the key's token here: the next key slot of the key; else bounced
//	TokenIn   holder zones     the zone holds the key's token at Epoch; its key slots continue after Last
//	TokenOut  holder zones     the zone gives the token up; the last key slot it used is recorded
//	Grant     master zone      the token table gives the key to Zone at Epoch (if the master holds it)
//	Return    master zone      the token table takes the key back from Zone after key slot Last
//	Noop      any zone         a hole a new zone leader filled
//
// The master zone holds every token nobody was granted; its log is the
// token table. A key's commands thus form one sequence of key slots, cut
// into tenures, each ordered by one zone's log; every node applies a key's
// commands in key-slot order, whichever logs they came from, and the node
// that took a client's request answers it when it applies the command.
// Reads are ordered like writes (read through the owner), so every
// operation is linearizable.
//
// # Message flow
//
//	message    handler          sends                        when
//	Request    handleRequest    Request | Proposal           a client command: to the zone leader; the leader logs it if its zone holds the token, else relays it to the master, which logs it or queues it and revokes the token
//	NewBallot  handleNewBallot  Vote                         a node campaigns to lead its zone (phase 1)
//	Vote       handleVote       Proposal, Commit, Heartbeat  promise with the voter's log; a zone majority makes the sender zone leader
//	Proposal   handleProposal   Ack                          zone leader asks its zone to accept a batch of records in a slot (phase 2)
//	Ack        handleAck        Commit                       acceptance; a zone majority commits the slot
//	Commit     handleCommit     CatchUp                      the slot is committed; sent to every node of every zone
//	Heartbeat  handleHeartbeat  CatchUp                      zone leader to every node, every heartbeat: alive (NewLeader), log length, committed prefix
//	CatchUp    handleCatchUp    Commit                       a node asks any node for committed slots of a zone log it is missing
//	Revoke     handleRevoke     Proposal (TokenOut)          master to the holder zone's leader: give the token back
//	Token      handleToken      Proposal (TokenIn)           master to the new holder zone's leader: the token is yours from key slot Last+1
//	tick       handleTick       Heartbeat, Proposal, Token, Revoke, NewBallot, Request   retransmission, the master's duties, failure detection, re-sending waiting requests
//
// A transfer is revoke -> return -> grant, as in the paper: the master logs
// nothing for a Revoke; the holder's leader logs TokenOut; the master learns
// it from the holder's log (no return message is needed: every node learns
// every log) and logs Return; later, when its policy says so, it logs Grant
// and sends Token; the new holder's leader logs TokenIn.
//
// # Quorums
//
// Every log is replicated by a majority of its zone's nodes (the paper's
// ZoneMajority): a zone of 2f+1 nodes survives f failures, and the master's
// state survives the failure of the master (the master zone's leader),
// since it is the master zone's log. A zone that loses its majority
// stops ordering the keys whose tokens it holds until it recovers; the rest
// of the system goes on, which is the trade-off WanKeeper makes for local
// commits. With one zone the protocol is Multi-Paxos with key slots.
//
// # Why transfers are exact
//
//   - A revocation neither loses nor reorders proposals in flight (pitfall
//     1): TokenOut is ordered in the holder's log after every command
//     proposed before it, which take the key slots up to the one the token
//     leaves with, and before every later one, which bounce: the leader that
//     proposed a bounced command routes it again (to the master).
//   - The new holder sees every write the old one committed (pitfall 2): the
//     token carries the last key slot used (Token.Last, from the Return,
//     which the master copies from the holder's log), and the new holder's
//     commands take the key slots after it; a node applies a key slot only
//     after every earlier one, learning the old holder's commits from its
//     log, so a read at the new holder waits for, and sees, every write
//     before it.
//   - Epochs make every step idempotent: the table changes only by
//     Grant(epoch+1) from the master or Return(epoch) from the holder of
//     that epoch; a zone takes a token only at an epoch above any it has
//     seen and gives up only the tenure it holds. Resent and stale Token
//     and Revoke messages therefore do nothing.
//
// # Master and zone leader failure
//
// The paper leaves failures open (pitfall 3). Here a zone leader is elected
// like a Multi-Paxos leader (heartbeats, randomised election timeouts,
// phase 1 in the zone); a new leader re-proposes what it learns from a zone
// majority and fills holes with no-ops. The master is simply the leader of
// the master zone: the token table, the tokens granted but not yet taken
// (resent until the holder's log shows the TokenIn) and the tokens given up
// but not yet returned (returned as soon as the holder's log shows the
// TokenOut) are all derived from the logs, so a new master carries on. What
// a leader loses is volatile: requests it queued; the nodes that took them
// from clients re-send them after an election timeout. A token whose holder
// zone lost its majority stays there until the zone recovers.
//
// # Deviations from the paper, and why
//
//   - The master zone is configurable (Options.MasterZone, default zone 1)
//     rather than read from a package-level flag (pitfall 4).
//   - Commits are sent by the committing zone leader to every node directly,
//     and every node learns every zone log (catching up from heartbeats);
//     the paper relays commits through the master. One hop is faster and
//     makes the master's own bookkeeping (e.g. that a holder has given a
//     token up) a matter of reading the holder's log.
//   - Grant policy: the master grants a key's token to a remote zone after
//     Options.Threshold (default 3) commands in a row from that zone, if no
//     other request waits for the key; any access from another zone revokes
//     it.
//   - Reads are ordered through the token holder's log, not served locally,
//     so they are linearizable (the paper's local reads are only
//     sequentially consistent).
//   - Zone logs are a Multi-Paxos written for records (a command or a token
//     step) rather than a reuse of package paxos, whose log carries store
//     commands and applies them to the store itself: here applying a slot
//     must assign key slots and move tokens first. The zone log follows
//     package paxos's corrected handlers (committed slots reported in votes,
//     no-op hole filling, retransmission, catch-up).
//   - State is kept per node as in package paxos's crash-recovery model: the
//     promise, every log known and what was derived from them are durable.
//     Logs are never truncated.
package wankeeper
