// Package quorum is the quorum arithmetic of paxi-style: which sets of nodes
// are quorums (a System), which pairs of systems are safe together (a Pair,
// proved by CheckIntersection), and a vote counter (a Tracker) that says
// whether a round is Pending, Won or Lost.
//
// Protocols choose their quorums instead of hard-coding "more than half":
// Flexible Paxos is Multi-Paxos with Flexible quorums, WPaxos is per-key
// Multi-Paxos with FGrid quorums, WanKeeper replicates inside a zone with
// ZoneMajority, and EPaxos pairs a Fast quorum with a Majority. The safety of
// Multi-Paxos and its flexible variants rests on one property: each phase-1
// quorum meets each phase-2 quorum. Each pair constructor checks the
// arithmetic that guarantees it and, on clusters of up to 16 nodes, proves it
// by enumeration; the tests prove it for every layout of up to nine nodes.
//
// # Systems
//
//	Majority(nodes)            more than half of the nodes
//	Count(nodes, k)            any k nodes
//	Fast(nodes, size)          any size nodes, 2*size > N; see FastQuorumSize
//	AllOfSomeZone(nodes)       every node of some zone    (Paxi: GridColumn)
//	OneFromEveryZone(nodes)    a node in every zone        (Paxi: GridRow)
//	ZoneMajority(nodes, z)     a majority of zone z
//	MajorityInSomeZone(nodes)  a majority of some zone
//	Flexible(nodes, q1, q2)    Q1 = any q1 nodes, Q2 = any q2, q1+q2 > N
//	FGrid(nodes, fz)           Q1 = majorities in Z-fz zones, Q2 in fz+1 zones
//
// The grid names say what a quorum holds rather than "row" or "column",
// because Paxi's GridRow and GridColumn are the opposite of the usual picture
// with zones as rows, and swapping them silently breaks intersection. Every
// AllOfSomeZone quorum meets every OneFromEveryZone quorum, so they form a
// Pair in either order; two AllOfSomeZone quorums do not meet each other.
//
// A System is built over a fixed list of at most MaxNodes nodes, kept sorted
// (pass paxi.Config.IDs()). A Set is a bit mask over that list: bit i is
// Nodes()[i]. Systems over the same nodes therefore share Sets, and quorum
// tests are a few popcounts, with per-zone masks computed once at
// construction.
//
// # Votes
//
// A Tracker records each node's first vote, ACK or NACK, and reports Won once
// the ACKs contain a quorum and Lost once the nodes that have not NACKed no
// longer contain one, so a protocol can give up on a round as soon as it
// cannot succeed. A vote from a node outside the system panics: it is a
// protocol bug, not an input error.
//
//	t := quorum.NewTracker(q2)
//	...
//	t.Ack(from) // in handleP2b
//	switch t.Result() {
//	case quorum.Won:  // commit
//	case quorum.Lost: // step down
//	}
//
// # Errors
//
// Constructors return errors wrapping ErrInvalid that name the constructor,
// the parameter and the bound, e.g. "quorum: invalid system: flexible:
// phase-1 quorum of 2 and phase-2 quorum of 3 out of 5 nodes can miss each
// other: need q1+q2 > n". CheckIntersection returns a *DisjointError holding
// two disjoint quorums when a pair is unsafe.
package quorum
