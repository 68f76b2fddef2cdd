// Package fpaxos is Flexible Paxos: Multi-Paxos whose phase-1 and phase-2
// quorums need not be majorities, only intersect each other.
//
// Paper: Heidi Howard, Dahlia Malkhi and Alexander Spiegelman, "Flexible
// Paxos: Quorum Intersection Revisited", OPODIS 2016 (arXiv:1608.06696).
//
// The protocol is package paxos unchanged, composed with other quorums: the
// quorum system is a parameter (paxos.Options), so there is no copy of the
// Paxos logic here. Messages and their flow are those of package paxos
// (P1a, P1b, P2a, P2b, P3, Heartbeat, CatchUp); see its doc.go.
//
// # Quorums
//
// The "quorum" section of the configuration chooses them:
//
//	{"system": "count", "q1": 4, "q2": 2}   any 4 nodes for phase 1, any 2 for phase 2; needs q1+q2 > N
//	{"system": "grid-zone-q1"}              phase 1: all nodes of one zone; phase 2: one node of every zone
//	{"system": "grid-zone-q2"}              phase 1: one node of every zone; phase 2: all nodes of one zone
//	{"system": "majority"}                  classic Multi-Paxos
//	"thrifty": true                         send P2a only to a smallest Q2
//
// Validation builds the pair for the configured nodes and proves that every
// Q1 meets every Q2 (exhaustively for up to 20 nodes), rejecting a pair that
// can miss with the two disjoint quorums as the reason.
//
// Smaller phase-2 quorums commit faster and let the leader wait for fewer,
// closer acceptors; the price is paid at leader changes, which need a live
// Q1: with |Q2| = k, steady-state commits survive N-k failures but an
// election only k-1.
//
// # Deviations from the paper
//
//   - Thrifty mode retransmits to the remaining acceptors when a slot is not
//     committed within half an election timeout, so one slow or dead member
//     of the chosen Q2 delays commits instead of stalling them forever.
//   - Everything else is as in package paxos (failure detection, no-op hole
//     filling, committed slots reported in P1b).
package fpaxos
