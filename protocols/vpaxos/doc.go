// Package vpaxos is Vertical Paxos II: per-object primary-backup
// replication whose configurations are changed by a replicated
// configuration master, with object migration between zones driven by a
// locality policy.
//
// Paper: Leslie Lamport, Dahlia Malkhi and Lidong Zhou, "Vertical Paxos and
// Primary-Backup Replication", PODC 2009 (MSR-TR-2009-63), §4 (Vertical
// Paxos II). The Paxi paper (Ailidani Ailijiang, Aleksey Charapov and
// Murat Demirbas, "Dissecting the Performance of Strongly-Consistent
// Replication Protocols", SIGMOD 2019) evaluates it per object in a WAN.
//
// # Model
//
// Every key is an object with its own log of slots and its own sequence of
// ballots. Each ballot b has a configuration config(b): a primary (b's
// leader, b.ID()) and Backups backups, nearest first. Within a ballot the
// quorums are primary-backup: a write quorum is every member, a read quorum
// any one member (quorum.Flexible with counts N and 1, which intersect).
// Quorums of different ballots need not intersect: the master serialises
// the ballots and the new leader reads the previous configuration's state
// before its own can be used.
//
// The configuration master keeps, per object, the last ballot issued and
// its configuration, and the last ballot activated and its configuration.
// It is the paxos package's Multi-Paxos, unchanged, on MasterSize nodes
// spread over the zones, run through an Env decorator (master.go) that
// gives it its own store; the master's record of an object is the fold of
// that store's history of the object's key. NewBallot is a compare-and-set
// on the last issued ballot, Complete activates a ballot only if it is
// still the last issued.
//
// # Message flow
//
//	message      handler            sends                        when
//	Request      handleRequest      Forward | P2a | MasterOp     a client command; the node that took it answers when it executes it
//	Forward      handleForward      Forward | P2a | MasterOp     a request routed to the leader of the newest ballot the sender knows
//	MasterOp     handleMasterOp     MasterReply (via Multi-Paxos) NewBallot, Complete or Query, to a master member
//	MasterReply  handleMasterReply  P1a | Transfer | P2a          the master's record after the op: NewBallot's reply is the paper's NewBallot, Complete's its Activated
//	P1a          handleP1a          P1b                          the leader of b asks the previous active configuration to promise b (fencing its primary)
//	P1b          handleP1b          Transfer                     a promise with the member's votes (one is a read quorum), or a rejection
//	Transfer     handleTransfer     TransferAck                  the state read, installed at each member of config(b) as copies with their ballots
//	TransferAck  handleTransferAck  MasterOp(Complete)           every member holds the state (a write quorum); or "send from slot n"; or a rejection
//	P2a          handleP2a          P2b                          the active primary asks every member to accept a command in a slot
//	P2b          handleP2b          P3                           acceptance; all members: committed. A higher ballot: the primary was fenced
//	P3           handleP3           -                            commit, to every node: all nodes learn and execute every object
//	Beat         handleBeat         CatchUp                      every heartbeat: the objects a primary leads and their committed prefix
//	CatchUp      handleCatchUp      P3                           a node asks for committed slots it is missing
//	Move         handleMove         MasterOp(NewBallot)          locality policy: the primary asks a node of the requesting zone to take the object
//	tick         handleTick         P1a, Transfer, P2a, MasterOp local timer: retransmission, failure suspicion, re-routing, beats
//
// The master's Multi-Paxos messages (paxos.P1a ... paxos.CatchUp, and
// MasterRequest wrapping its forwarded requests) run among the master
// members only.
//
// # Reconfiguration (§6.2 of the project's PROTOCOLS.md)
//
//  1. A node that wants to lead an object (the first to receive a request
//     for it, the target of a Move, a node whose requests are stuck, a
//     primary leaving out an unresponsive backup) sends NewBallot{after the
//     last issued ballot it knows, itself, its configuration}. The master's
//     reply names b, the previous active ballot and its configuration.
//  2. The leader sends P1a{b} to the previous configuration; each member
//     promises b (it accepts no P2a of a lower ballot afterwards: the old
//     primary can no longer commit, since its write quorum includes every
//     member) and reports its votes from the leader's applied prefix on.
//  3. One P1b is a read quorum: its votes (committed ones flagged) are the
//     state. The leader installs it and sends it in Transfer{b} to the
//     members of config(b), which install it as copies with their original
//     ballots, so nothing is chosen in b yet; a member missing committed
//     slots below the transfer asks for them (TransferAck{Need}).
//  4. With every member's TransferAck the leader sends Complete{b}; the
//     master activates b only if b is still the last ballot it issued.
//  5. Activated, the leader proposes again, at b, every slot of the state
//     that is not committed (holes get no-ops), then the waiting requests.
//
// No value is chosen in b before its activation, and at activation every
// member of config(b) holds every value that may have been chosen before;
// so a ballot abandoned before activation loses nothing, and the next
// leader, told the last active ballot, reads a member that holds it all.
//
// # Failures and migration
//
// The master has no failure detector of its own; nodes detect by timeouts
// and reconfigure. A primary whose slot is not acknowledged by every member
// within an election timeout suspects the silent members and forms a new
// configuration without them (itself as the previous configuration's read
// quorum); it grows back once suspicions expire. A node whose client
// request waits an election timeout re-routes it and queries the master;
// two such queries that find the same last issued ballot make it take the
// object over. A primary whose last MoveAfter requests for an object came
// from one other zone sends Move to the node that took the last of them.
//
// # Deviations from the paper and from Paxi's vpaxos, and why
//
//   - The leader asks for its own ballot (NewBallot carries the leader and
//     the configuration) instead of the master choosing: the master is a
//     replicated state machine with no timers, and the nodes see the
//     failures and the locality. NewBallot is compare-and-set on the last
//     issued ballot so that concurrent askers do not keep abandoning each
//     other's ballots.
//   - Paxi's gaps (PROTOCOLS.md §6.3) are closed: P1a raises the promise
//     (fencing), the votes read are transferred and installed, the master
//     activates only on Complete, and a node that forwards a request does
//     not also propose it.
//   - Every node learns every object (P3 and Beat go to all nodes), and the
//     node a client talks to answers it when it executes the command, so a
//     client is answered even if its request went through several primaries.
//   - Reads are ordered in the log like writes (no local reads at the
//     primary: without leases a fenced primary would serve stale reads).
//   - Transfer replaces the receiver's uncommitted votes on the transferred
//     slots and drops those beyond: they were not chosen. A transfer is
//     installed once per ballot, so a duplicate cannot undo votes accepted
//     in that ballot since.
//   - A stale NewBallot reply (the ballot was superseded before its leader
//     heard of it) is detected when the state read lacks a slot this node
//     has seen committed, and the ballot is given up.
//   - Crash-recovery: promises, votes, logs and the master's Multi-Paxos are
//     durable; leaderships are not (a restarted primary asks for a new
//     ballot). Logs are never truncated; P1b and Transfer carry only the
//     slots from the leader's applied prefix on (lower if a member asks with
//     TransferAck{Need}), since every node learns committed slots anyway.
//   - Options (Backups, MasterSize, MoveAfter) are set in code
//     (ProtocolWithOptions); `paxi local -protocol vpaxos` uses the defaults.
package vpaxos
