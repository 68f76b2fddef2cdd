// Package apus is APUS: Paxos replication in which the leader writes log
// entries straight into its followers' memory with one-sided RDMA WRITEs,
// and followers acknowledge with one-sided WRITEs into the leader's
// memory, with DARE's leader election and log access control.
//
// Paper: Cheng Wang, Jianyu Jiang, Xusheng Chen, Ning Yi, Heming Cui,
// "APUS: Fast and Scalable Paxos on RDMA", ACM SoCC 2017. Election, log
// layout and log access management come from DARE: Marius Poke and
// Torsten Hoefler, "DARE: High-Performance State Machine Replication on
// RDMA Networks", HPDC 2015. PROTOCOLS.md §8 describes both from their
// artifact; §10 the emulated verbs (package transport/rdma) this runs on.
//
// # Memory and planes
//
// Every replica registers a log region (a header with the end and commit
// words, and a ring of Slots fixed-size slots: entry j in slot j mod
// Slots) and a control region (a heartbeat word per node, and a 64-byte
// record per node that only that node writes: its ack, applied count,
// grant, vote ack and vote request). layout.go has the offsets. Each pair
// of nodes has two reliable connections, as in DARE: the log plane
// (channel 0), on which a follower grants read and write rights to the one
// leader it follows, and the control plane (channel 1), always open.
//
// # Verb flow
//
// Client requests are paxi.Requests: the node that takes one forwards it
// to the leader with Env.Send and answers it when it applies the command.
// Everything else is one-sided RDMA, watched (rdma.Changed) or read on the
// tick:
//
//	what                    verb (plane)                        where it lands              who reacts
//	entry j                 WRITE (log)                         follower ring slot j        nobody until the end word moves
//	end + commit words      WRITE 16 B (log), after the entries follower log header         follower (watch): checks entries, acks, applies
//	ack record              WRITE 16 B (control)                leader record[follower]     leader (watch): commit on a majority
//	heartbeat               WRITE 8 B (control), every tick     peer hb[leader]             peer (tick): alive; new leader; stale leader
//	stale-leader answer     WRITE 8 B (control)                 old leader hb[me]           old leader (tick): adopts the term
//	vote request            WRITE 32 B (control)                peer record[candidate]      peer (watch): adopt term, vote
//	vote ack                WRITE 8 B (control)                 candidate record[voter]     candidate (watch): majority -> leader
//	grant                   WRITE 8 B (control), after Connect  leader record[follower]     leader (watch): adjust the follower
//	log adjustment          READ of the whole log region (log)  -                           leader: first mismatch, then stream
//	revocation              QP Reset of every log-plane end     -                           (old leader's WRITEs now fail)
//
// Timers: tick (every Heartbeat: heartbeats, failure detection, re-acks,
// re-sends) and flush (the leader drains its queue of requests into the
// log once per instant, so that concurrent requests share entries, like
// the artifact's consensus thread draining its queue on each round).
//
// # Normal case (PROTOCOLS.md §8.3)
//
// The leader appends the entry {index, term, checksum, commands} to its own
// ring and posts, per follower, the entry WRITEs and then one WRITE of the
// follower's end and commit words, on the same queue pair: in-order
// placement makes the entries whole before the end word says they exist,
// and a follower never reads a slot at or past its end word. The follower
// verifies every new entry's checksum anyway (a torn entry below the end
// word is a broken invariant and panics), writes its ack record — the end
// word it saw, term and index in one 8-byte word (§8.6 pitfall 1: an ack
// names what it acknowledges, never a bare byte at an offset) — and
// applies below min(end, commit) when both words come from one leader. The
// leader commits the highest index a majority (itself included) acked in
// its term, if it covers an entry of its term (Raft §5.4.2), and applies.
// The commit word travels lazily, with the next entries or the next
// heartbeat tick, as in APUS.
//
// Flow control: the leader writes entry j into a follower's ring only if
// j < applied + Slots - 1 (the follower reports applied in its ack
// record), so no unapplied entry is overwritten and one slot is always
// free for a new leader's NOOP. Entries no longer in the leader's ring
// come from its history of applied entries (the artifact's stable store),
// so a follower arbitrarily far behind is refilled through its ring.
//
// # Election and recovery (PROTOCOLS.md §8.4)
//
// Terms, votes and the election restriction are Raft's, carried by the
// control region. A follower whose leader's heartbeat word has not moved
// for a random timeout in [ElectionTimeout, 2*ElectionTimeout) campaigns:
// it takes the next term, resets every log-plane queue pair (no one may
// write its log) and writes a vote request {term, last index, last term}
// into every peer. A node that sees a higher term adopts it and resets its
// log plane likewise; it votes (one vote per term) for a candidate whose
// log is at least as up to date as its own, by writing the term into the
// candidate's record. A candidate with a majority becomes leader: it
// connects its log plane, appends a NOOP of its term, and heartbeats.
// A follower that sees the heartbeat connects its log-plane end to the
// leader with read and write rights and then writes its grant; on the
// grant the leader READs the follower's log region, finds the first slot
// above the follower's applied count that is not its own entry (torn,
// another index or another term), writes the follower's end word back to
// that point and streams from there (DARE's log adjustment).
//
// Fencing: a follower's log plane is writable only by the leader of the
// term it holds, because adopting a term resets it. A leader deposed
// while paused or cut off finds its WRITEs failing (RetryExceeded: the
// responder's queue pair is reset) and learns the newer term from its own
// control region (the new leader's heartbeat, or a stale-leader answer,
// pitfall 6). Every follower checks the fence: a change of its end or
// commit word by a leader of an older term after it revoked that leader
// panics.
//
// # Quorums
//
// Majorities for votes and for commits; every two majorities meet, which
// with the election restriction gives Raft's leader completeness.
//
// # Deviations from the paper and the artifact, and why
//
//   - No interposition: the framework's request handler is the
//     interception point and the replicated program is the key-value
//     store (PROTOCOLS.md §0.4). Requests taken by a follower are
//     forwarded to the leader over the message transport and answered by
//     the follower when it applies them.
//   - Crash-stop, in memory: no stable storage, no Recover (a simulated
//     crash makes the host unreachable, memory kept, until it restarts),
//     so entries are not persisted before the ack and a voter's vote
//     needs no replication (pitfall 3). Applied entries are kept in memory
//     for followers far behind, instead of snapshots.
//   - Fixed-size slots, one entry per slot, several commands per entry; a
//     command larger than a slot's payload is refused with an error.
//   - Acks are a per-follower {term, end} word and an applied count (not
//     one ack byte per entry per replica in the entry), and the end and
//     commit words carry their writer's term: this is pitfall 1's fix, and
//     it lets the leader and the followers reject stale words.
//   - No membership changes (CONFIG entries): the cluster is the
//     configuration's nodes.
//   - Emulated verbs have no protection domains: the always-open control
//     plane could reach the log region too. The protocol never uses it to;
//     the fencing guarantee is that of the log plane.
//   - Timing: the default heartbeat is 5 ms and the election timeout 50 ms,
//     five times the artifact's (1 ms, 10 ms; ArtifactOptions), because
//     every heartbeat costs simulator events and the seeded simulation runs
//     hundreds of 30-second runs. Fail-over scales with these.
//
// # Figures (sim backend, default profile cx5-edr-1switch)
//
// Replication of a 64-byte request with 3 replicas, arrival at the leader
// to its reply there (TestReplicationLatency, BenchmarkReplication):
// median 1.61 µs, p99 1.93 µs. That is the entry and end-word WRITEs'
// placement (post 0.1 + wire 0.5 + responder 0.1 µs), the follower's poll
// detecting the end word (0.1 µs), its ack WRITE's placement (0.7 µs) and
// the leader's poll detecting it (0.1 µs); the leader waits for the
// fastest of two followers. Mu's < 1.3 µs is the WRITE's completion at the
// leader (≈1.25 µs), with no follower CPU on the path; APUS adds the
// follower's poll and ack.
//
// Fail-over with ArtifactOptions, from pausing or crashing the leader
// until a new leader commits its NOOP (BenchmarkFailover, 200 seeds):
// median 15 ms, maximum 40 ms (TestFailoverTime: 13 to 30 ms over its 10
// seeds). It is the election timeout (10-20 ms, observed at 1 ms ticks),
// a vote round trip (µs), the log-plane Connect (0.5 ms) and the
// adjustment READ; a split vote costs another timeout.
package apus
