// Package mu is Mu: state machine replication in which the leader writes
// each request straight into its followers' logs with one-sided RDMA
// WRITEs, each follower lets exactly one leader write its log, and a
// heartbeat score read with RDMA READs elects the leader.
//
// Paper: Marcos K. Aguilera, Naama Ben-David, Rachid Guerraoui, Virendra
// J. Marathe, Athanasios Xygkis, Igor Zablotchi, "Microsecond Consensus
// for Microsecond Applications", OSDI 2020; PROTOCOLS.md §9 (which also
// read the authors' artifact) and §10 (the emulated verbs this package
// runs on, package transport/rdma).
//
// # Structure and memory
//
// Every replica registers two regions (layout.go): the log — minProposal,
// commit index, applied index, then a circular array of fixed-size slots
// — and a control region — a heartbeat counter and, per peer, a
// permission-request word and a grant word. Each pair of replicas has two
// reliable connections per plane, one per direction of use: the
// replication plane, whose remote-write right on a follower's end is the
// permission, and the background plane for heartbeats, requests and
// grants.
//
// # Verb and message flow
//
//	what                   verb / message                     by → to              handler
//	heartbeat              local Store64 of the counter       every replica        handleScan (every Scan)
//	failure detection      READ of a lower peer's counter     replica → lower IDs  handleScan: score ±, alive with hysteresis
//	permission request     WRITE reqNr into my request word   candidate → all      scanRequests (watched, Changed)
//	permission switch      SetRemoteAccess (revoke, grant)    follower, locally    reconcile (AccessChanged)
//	grant                  WRITE reqNr into my grant word     follower → leader    scanGrants (watched, Changed)
//	slow path 1 prepare    READ log header                    leader → granted     prepared: max minProposal, max applied
//	slow path 1b catch up  READ slots [mine, max applied)     leader → most ahead  catchUpSelf (or SnapshotRequest)
//	slow path 2 promise    WRITE missing slots, commit, minP  leader → members     (a member beyond the log: Snapshot)
//	slow path 3 read       READ slot at first undecided       leader → members     chooseValue: highest accepted proposal
//	slow path 4 / fast     WRITE slot (index, propNr, fuo,    leader → members     decide at a majority counting itself
//	                         command, checksum, trailer)
//	commit                 WRITE commit index                 leader → members     replay (watched, Changed)
//	replay                 local reads of own log             follower             consume complete slots, apply below commit
//	log refresh            READ a follower's applied index    leader → follower    recycling watermark
//	client request         paxi.Request                       any node → leader    handleRequest; the receiving node replies
//	state transfer         SnapshotRequest / Snapshot         two-sided            handleSnapshot
//
// # Quorums
//
// A leader needs write permission from a majority counting itself (it
// revokes every peer's write on its own log first). Every slow-path round
// and every fast-path slot needs a majority of successful operations,
// the leader's own log included. Paxos underneath: minProposal is the
// promise, a slot's acceptedProposal the accepted ballot; permissions make
// a leader's read-then-write at each follower atomic, and the proposal
// numbers order the values when permissions move back and forth
// (L1 → L2 → L1).
//
// # Deviations from the paper and the artifact, and why
//
//   - Majority, not all: a candidate proceeds with grants from a majority
//     and keeps asking the rest (the artifact waits for every peer).
//   - Adopting loops: after adopting a found value the slow path reads the
//     next slot, and only a free slot takes the client's command (the
//     artifact reported success without writing it; PROTOCOLS.md §9.9).
//   - Slots carry a CRC-32C as well as the canary. Mu's canary (here an
//     8-byte trailer repeating the index) is sound only when a write lands
//     in address order; under the emulator's random-chunk placement a
//     follower could consume a slot whose middle has not landed. The
//     checksum makes completeness independent of placement order.
//     Options.TrustPlacement turns it off, and the torn-slot test shows the
//     random-chunk mode catching that variant.
//   - Log recycling by a watermark instead of the artifact's stop-the-world
//     recycling round: slot i lives at i mod Slots and carries its index,
//     so stale slots need no zeroing; a leader writes index i into a
//     follower's log only while the follower's applied index (read with a
//     READ, refreshed half a log ahead) is above i-Slots, and a follower
//     too far behind for the leader's log gets a Snapshot over the
//     ordinary transport. A lagging replica never blocks the others.
//   - A new leader behind the most advanced member of its quorum first
//     copies the decided slots it lacks from that member's log (READ), or
//     asks for a Snapshot when they were recycled; catch-up writes to
//     followers restamp slots with the leader's proposal number so that a
//     later leader never prefers an older undecided value.
//   - Followers learn the commit index from the fuo field of each slot (as
//     in Mu) and from a commit word the leader writes after each decision,
//     so the last request does not wait for the next one to be applied.
//   - A follower's replayer drops what it consumed when it grants
//     permission to anyone, and re-checks the (index, proposal) of
//     consumed slots when the log changes: a new writer may rewrite them.
//   - Detection parameters (Scan, scores, thresholds) are options. The
//     default scan of 5 ms keeps long simulations cheap; the fail-over
//     measurement uses 10 µs. Requests from a peer count as proof of its
//     liveness, which ends two-leader permission ping-pong quickly.
//   - Queue pairs whose work stays outstanding for Stall are reset and
//     reconnected: an unreachable peer shows only at the RC timeout
//     (about 0.5 s), far beyond Mu's detector.
//   - Rights are per queue pair in verbs, so the background plane's
//     connections could write the log region too; here only the control
//     region's key is ever named on them. On hardware the two planes would
//     live in separate protection domains.
//   - Permission requests are request numbers per requester slot, any new
//     one wins (as in Mu); there is no hard-reset bit.
//   - Crash-stop, in memory, as in the paper: no Recover.
package mu
