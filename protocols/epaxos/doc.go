// Package epaxos is Egalitarian Paxos: leaderless state-machine replication
// in which every replica is the command leader of the commands its clients
// send it, commands that do not conflict commit after one round trip to a
// fast quorum, and a dependency graph orders the ones that do.
//
// Papers: Iulian Moraru, David G. Andersen, Michael Kaminsky, "There Is More
// Consensus in Egalitarian Parliaments", SOSP 2013 (§4: the protocol, Figure
// 2 normal case, Figure 3 the simplified recovery); Pierre Sutra, "On the
// correctness of Egalitarian Paxos" (arXiv 1906.10917, 2019), for the
// missing vbal; Fedor Ryabinin, Alexey Gotsman, Pierre Sutra, "Making
// Democracy Work: Fixing and Simplifying Egalitarian Paxos", OPODIS 2025
// (arXiv 2511.02743). PROTOCOLS.md §3 lists the corrections (F1-F9) this
// implementation makes to the reference code, efficient/epaxos.
//
// # Instances and attributes
//
// The instance space has one row per replica; instance R.i is the i-th
// instance of command leader R. An instance decides a batch of commands and
// two attributes: seq, and deps, a vector with one entry per replica (peer
// order): deps[q] = j means "depends on q.0 .. q.j", a prefix, -1 for none.
// Conflict: same key and at least one write (reads commute). An instance
// always depends on its own row's prefix: deps[R] = i-1 for R.i.
//
// Each replica keeps, per instance, two ballots (F1): bal, the highest
// ballot promised, and vbal, the ballot at which the instance's status and
// attributes were set; plus status (none, pre-accepted, accepted,
// committed) and whether it has executed it. Ballots are per instance; the
// initial ballot of R.i is round 0 owned by R, recoverers use rounds >= 1.
// Messages name the instance by (Replica, Instance), never by their sender
// (F3).
//
// # Message flow
//
//	message      handler            sends                 when
//	Request      handleRequest      (PreAccept)           a client command; batched into the next own instance (below)
//	PreAccept    handlePreAccept    PreAcceptOK | Nack    phase 1: the acceptor merges its conflicts into seq/deps and pre-accepts
//	                                | Commit              (Commit if it has the instance committed)
//	PreAcceptOK  handlePreAcceptOK  Commit | Accept       fast quorum of the leader's own attributes: commit; else a majority: Accept
//	Accept       handleAccept       AcceptOK | Nack       Paxos-Accept of exact attributes; raises bal and sets vbal (F4)
//	AcceptOK     handleAcceptOK     Commit                a majority accepted: commit
//	Commit       handleCommit       -                     the decision, with commands; the executor runs
//	Prepare      handlePrepare      PrepareOK | Nack      recovery phase 1 for one instance; bal moves, vbal does not
//	PrepareOK    handlePrepareOK    Accept | PreAccept    a majority reported: decide (below); any committed report ends recovery
//	                                | Commit
//	Nack         handleNack         -                     a higher ballot was promised: stop driving the instance, back off
//	Heartbeat    handleHeartbeat    CatchUp               every heartbeat interval: committed prefix and highest commit per row
//	CatchUp      handleCatchUp      Commit                a replica asks for commits it lacks
//	tick         handleTick         Heartbeat, PreAccept, local timer: heartbeats, retransmission of the current phase to
//	                                Accept, Prepare       non-voters, recovery of instances stuck past a timeout
//	fastTimeout  handleFastTimeout  Accept                local timer: a majority answered but no fast quorum in time
//
// # Quorums
//
// Slow path (Accept), recovery (Prepare) and a restarted phase 1: a
// majority, F+1 of N = 2F+1. Fast path: N-1 = 2F replicas including the
// command leader (never less than a majority), all of which pre-accepted
// exactly the attributes the leader proposed, at the initial ballot. Any
// two fast quorums intersect, and a majority that excludes the leader holds
// at least need = fq + (F+1) - N (= F for odd N) members of any fast quorum.
//
// # Recovery: the paper's simplified recovery, with two ballots
//
// We implement the simplified recovery of the paper (Figure 3, fast quorum
// 2F), corrected with vbal (F1), and without TryPreAccept. Why: the
// optimized recovery (fast quorum F+⌊(F+1)/2⌋) needs TryPreAccept, which
// is where the reference code is broken in several places (F2) and where
// dependencies get lost under asymmetric PreAccept loss (efficient/epaxos
// issue #29); its repaired form, EPaxos* of Ryabinin, Gotsman and Sutra,
// changes the protocol. The simplified recovery has the short argument
// below. For N = 3 both variants have the same fast quorum (2); for N = 5
// ours is 4 instead of 3.
//
// A recoverer Q of instance γ = R.i takes a ballot b above any it has seen
// for γ, sends Prepare(b), and once a majority promised (its own state
// included) decides, on the replies (decide in recovery.go):
//
//  0. a reply says committed: commit that.
//  1. let v be the highest vbal among replies that have the command; if a
//     reply at v is accepted, Accept(b) its value.
//  2. if v is the initial ballot, R is not among the repliers, and at least
//     need repliers hold an original pre-accept (the leader's attributes,
//     unchanged, at the initial ballot): Accept(b) those attributes.
//  3. otherwise, if someone has the command: phase 1 again at b, with fresh
//     attributes, no fast path; then Accept(b) the union of a majority.
//  4. nobody has the command: Accept(b) a no-op.
//
// Agreement (one decision per instance). Within ballots >= 1 this is Paxos:
// one value per ballot (the ballot's owner sends one Accept value), acceptors
// promise with bal and report vbal, and rule 1 takes the value of the
// highest vbal. A pre-accept at ballot b >= 1 exists only because the owner
// of b chose rule 3, which it does only when nothing was or can be decided
// below b; so a highest vbal carrying only pre-accepts (b >= 1) again allows
// rule 3. What is new is the fast path at the initial ballot b0. Suppose R
// committed attributes A on it: N-1 replicas including R pre-accepted A at
// b0, and R never sent an Accept at b0. Take the lowest ballot b1 > b0 whose
// owner got past Prepare. Its repliers report states set at b0 only (a
// replica that had set anything at a ballot in between would have promised
// it, and refused b1). If R replied, it reported committed (R commits at b0
// only while bal = b0, and promising b1 ends that): rule 0. If not, the
// majority misses at most one non-leader replica of the fast quorum, so at
// least need repliers report the original pre-accept A: rule 2 picks A (all
// original pre-accepts carry the same attributes: R sends one set at b0).
// From b1 on, every Accept carries A, by the Paxos induction: rule 1 finds A
// at the highest vbal, or rule 2 applies as before, and rule 3 and 4 never
// apply because the fast quorum's pre-accepts are still there.
//
// The dependency invariant (what execution order rests on): if γ and δ
// conflict and both commit, δ's deps contain γ or γ's contain δ. Every way
// of committing γ has a witness set W(γ) of at least a majority, each member
// of which reported γ's attributes, or attributes below them, after merging
// every conflicting instance it knew:
//
//   - fast path: the fast quorum (each pre-accepted exactly the committed
//     attributes);
//   - slow path and rule 3: the majority whose replies were unioned;
//   - rule 2: the need original pre-accepters plus R (who computed A), a
//     majority (need + 1 = F + 1);
//   - rule 1: inherited from the ballot that chose the accepted value;
//   - a no-op conflicts with nothing.
//
// W(γ) and W(δ) share a replica z. z made one of its two reports first, say
// the one on δ; it knew δ's command from then on (the conflict tables learn
// every command a replica pre-accepts, accepts or commits), so its later
// report on γ included δ, and γ's committed deps contain δ, since they
// contain every witness's report. This is also why rule 2
// needs original pre-accepts, and need of them: an acceptor that knew δ adds
// it, so its pre-accept is no longer original. With fewer (issue #29:
// recover from one pre-accept of the leader's attributes while another
// replica added δ), a committed δ can be missing from γ's deps while γ is
// missing from δ's (TestAsymmetricPreAcceptLoss).
//
// Execution consistency and linearizability. All replicas see the same
// committed attributes, hence the same graph (exec.go); of two conflicting
// commands one reaches the other, and strongly connected components run in
// a fixed order (seq, replica, instance) (F5), so every replica executes
// them in the same relative order. A reply is sent after execution; a
// command proposed after another one was answered reaches a majority that
// includes a replica knowing the first, so it depends on it and executes
// after it. Reads are commands too.
//
// # What this implementation adds to, or changes in, the paper
//
//   - Fast path: PreAcceptOKs equal to the leader's own attributes, not
//     merely to each other (PROTOCOLS.md §3.4: the simple safe choice; with
//     N = 3 two different single replies could otherwise both look
//     committable), and only while the leader's promise is still the
//     initial ballot. Under conflicts this takes the slow path more often.
//   - Every instance depends on its own row's prefix (deps[R] = i-1). Same
//     row conflicts are then ordered without consulting the conflict tables
//     (which keep only the highest instance per key and could not tell an
//     instance from its predecessors), and recovery of a row's holes is
//     driven by any later instance of that row. Cost: execution of R.i
//     waits for R's earlier instances to commit.
//   - Executor: an edge from γ to δ exists iff δ is in one of γ's dependency
//     prefixes and their commands conflict; every instance in the prefixes
//     must be committed before γ's edges are known. It never blocks (F6):
//     a missing instance is marked needed, recovered after half an election
//     timeout (plus jitter) unless it commits first, and the pass moves on.
//     Instances stuck without anyone needing them are recovered after
//     twice the election timeout.
//   - Clients are answered after execution, reads and writes alike, by the
//     replica that received the request; requests are never forwarded, and
//     requests to a crashed replica are lost (clients time out). seq is kept
//     for the order inside components; nothing is answered at commit time.
//   - Batching: up to BatchMax commands per instance; a new own instance is
//     started only while fewer than Pipeline own instances are in flight,
//     so commands that arrive meanwhile leave together.
//   - A pre-accept at a higher ballot replaces an accepted state set at a
//     lower one (the sender of that pre-accept applied rule 3, so nothing
//     was decided below its ballot). A repeated PreAccept at the same
//     ballot is answered with the stored attributes, never recomputed:
//     a fast path and the recovery that must find it count on one answer
//     per replica and ballot.
//   - Commit always carries the commands (no CommitShort, F9). Heartbeat
//     and CatchUp spread commits that were lost; a replica missing a commit
//     in the middle of a row learns it through recovery, which any replica
//     that has it answers with the commit.
//   - Phase messages are retransmitted to non-voters every two heartbeats;
//     a leader that hears of a higher ballot stops (and, if it was the
//     command leader and a no-op is decided, proposes its clients' commands
//     again in a new instance).
//   - Crash recovery (paxi.Durable, Protocol.Recover): every instance's
//     acceptor state, the conflict tables and the executed marks are
//     durable, and handed over whole at a crash. A restarted replica never
//     resumes its own proposals at the initial ballot; its uncommitted
//     instances are recovered like anyone else's.
//   - Messages that index memory are validated (replica ids, instance
//     numbers within maxGap of a row's end, dependency vectors, operations,
//     ballot ownership); bad input is logged and ignored. A decided
//     instance decided again differently panics: that is a broken
//     invariant.
//   - Not implemented: the optimized fast quorum with TryPreAccept, thrifty
//     messaging, checkpoints and garbage collection of executed instances
//     (rows grow forever), and reads served without ordering.
package epaxos
