package quorum

import (
	"fmt"
	"slices"

	"github.com/ailidani/paxi-style/paxi"
)

// MaxCheckNodes is the largest node count CheckIntersection handles. It
// enumerates all 2^N sets (N·2^N quorum tests to check monotonicity), which
// is about a million at 16 nodes and twenty million at 20.
const MaxCheckNodes = 20

// constructorCheckNodes is the largest node count at which the pair
// constructors re-prove their own intersection with an enumeration (2^N
// quorum tests, about a millisecond at 16 nodes). Above it they rely on the
// arithmetic alone, which the exhaustive tests cover for small clusters.
const constructorCheckNodes = 16

// Pair is a phase-1 (Q1: prepare, leader election, recovery, read) and a
// phase-2 (Q2: accept, replication, write) quorum system over the same nodes.
// Multi-Paxos and its flexible variants are safe when every Q1 quorum meets
// every Q2 quorum; Q1s need not meet each other, nor Q2s. NewPair checks
// that; the systems Flexible and FGrid return are checked already, so
// Pair{q1, q2} of them is safe. A Pair literal of other systems is not.
type Pair struct {
	Q1 System
	Q2 System
}

// String returns "q1=<Q1>,q2=<Q2>".
func (p Pair) String() string { return "q1=" + p.Q1.String() + ",q2=" + p.Q2.String() }

// NewPair returns the Pair {q1, q2} after proving with CheckIntersection that
// every q1 quorum meets every q2 quorum. Systems over more than MaxCheckNodes
// nodes cannot be proved this way and are rejected; build the Pair literal
// yourself if you have a proof of your own.
func NewPair(q1, q2 System) (Pair, error) {
	if err := CheckIntersection(q1, q2); err != nil {
		return Pair{}, err
	}
	return Pair{Q1: q1, Q2: q2}, nil
}

// Flexible returns the count-based quorums of Flexible Paxos: Q1 is any q1
// nodes and Q2 any q2 nodes. They are safe together only if q1+q2 > N (then
// two such sets cannot fit side by side in N nodes), which Flexible checks.
// Typical settings shrink Q2 (faster commits) and grow Q1 = N-q2+1 (slower,
// more fragile leader changes: only q2-1 failures leave a live Q1).
func Flexible(nodes []paxi.ID, q1, q2 int) (Q1, Q2 System, err error) {
	l, err := newLayout("flexible", nodes)
	if err != nil {
		return nil, nil, err
	}
	n := len(l.nodes)
	if q1 < 1 || q1 > n {
		return nil, nil, invalid("flexible: q1 = %d with %d nodes: need 1 <= q1 <= n", q1, n)
	}
	if q2 < 1 || q2 > n {
		return nil, nil, invalid("flexible: q2 = %d with %d nodes: need 1 <= q2 <= n", q2, n)
	}
	if q1+q2 <= n {
		return nil, nil, invalid("flexible: phase-1 quorum of %d and phase-2 quorum of %d out of %d nodes can miss each other: need q1+q2 > n", q1, q2, n)
	}
	a := &countSystem{layout: l, mask: l.all, k: q1, name: fmt.Sprintf("count(%d of %d)", q1, n)}
	b := &countSystem{layout: l, mask: l.all, k: q2, name: fmt.Sprintf("count(%d of %d)", q2, n)}
	mustIntersect("flexible", a, b)
	return a, b, nil
}

// FGrid returns the flexible grid quorums of WPaxos for fz tolerated zone
// failures: Q1 is a majority of the nodes in each of at least Z-fz zones, Q2
// a majority of the nodes in each of at least fz+1 zones (Z zones in all,
// each zone's majority counted over its own nodes). They are safe together
// because (Z-fz) + (fz+1) > Z zones must share a zone, and two majorities of
// that zone share a node. With fz = 0, Q2 is zone-local (commits never leave
// the leader's zone) and Q1 needs every zone.
//
// Per-zone majority means each zone tolerates fn = (l-1)/2 node failures of
// its l nodes; fz must be in [0, Z).
func FGrid(nodes []paxi.ID, fz int) (Q1, Q2 System, err error) {
	l, err := newLayout("fgrid", nodes)
	if err != nil {
		return nil, nil, err
	}
	zs := len(l.zones)
	if fz < 0 || fz >= zs {
		return nil, nil, invalid("fgrid: fz = %d with %d zones: need 0 <= fz < zones (fz is how many zones may fail)", fz, zs)
	}
	maj := func(z zoneInfo) int { return majority(z.size) }
	a := newZoneSystem(l, maj, zs-fz, fmt.Sprintf("fgrid-q1(fz=%d,zones=%d)", fz, zs))
	b := newZoneSystem(l, maj, fz+1, fmt.Sprintf("fgrid-q2(fz=%d,zones=%d)", fz, zs))
	mustIntersect("fgrid", a, b)
	return a, b, nil
}

// mustIntersect re-proves, for small clusters, that the pair a constructor is
// about to return is safe. A failure is a bug in this package, not a bad
// configuration, so it panics.
func mustIntersect(kind string, q1, q2 System) {
	n := len(q1.Nodes())
	if n > constructorCheckNodes {
		return
	}
	if err := findDisjoint(q1, q2, n); err != nil {
		panic(fmt.Sprintf("quorum: bug: %s built a pair that is not safe: %v", kind, err))
	}
}

// DisjointError is CheckIntersection's counterexample: a Q1 quorum and a Q2
// quorum with no node in common. Both are minimal (no node can be dropped
// from either and leave a quorum), so they show the smallest way the two
// systems miss each other.
type DisjointError struct {
	Q1, Q2 System    // the systems checked, in the order given
	A      []paxi.ID // a minimal Q1 quorum
	B      []paxi.ID // a minimal Q2 quorum with no node of A
}

// Error names both systems and both node sets.
func (e *DisjointError) Error() string {
	return fmt.Sprintf("quorum: %v and %v can miss each other: %s is a phase-1 quorum and %s a phase-2 quorum with no node in common",
		e.Q1, e.Q2, formatIDs(e.A), formatIDs(e.B))
}

// CheckIntersection proves that every quorum of q1 meets every quorum of q2,
// by enumerating all subsets of the nodes, or returns a *DisjointError with a
// counterexample. It first checks that both systems keep the System contract
// over the same nodes (sorted, monotone, the full set a quorum) and reports a
// breach as ErrInvalid, since the proof and Tracker depend on it. It handles
// up to MaxCheckNodes nodes and returns ErrInvalid above that.
func CheckIntersection(q1, q2 System) error {
	for _, s := range []System{q1, q2} {
		if err := checkNodes(s.Nodes()); err != nil {
			return invalid("%v: %v", s, err)
		}
	}
	if !slices.Equal(q1.Nodes(), q2.Nodes()) {
		return invalid("%s and %s are over different nodes", describe(q1), describe(q2))
	}
	n := len(q1.Nodes())
	if n > MaxCheckNodes {
		return invalid("%v and %v: %d nodes: CheckIntersection enumerates all 2^n sets and stops at %d nodes", q1, q2, n, MaxCheckNodes)
	}
	for _, s := range []System{q1, q2} {
		if err := checkMonotone(s, n); err != nil {
			return err
		}
	}
	return findDisjoint(q1, q2, n)
}

// checkMonotone checks that s has a quorum and that adding any one node to a
// quorum leaves a quorum (which, by induction, covers every superset).
func checkMonotone(s System, n int) error {
	all := Full(n)
	if !s.IsQuorum(all) {
		return invalid("%v: has no quorum: even all nodes %s are not one", s, formatIDs(s.Nodes()))
	}
	for a := Set(0); a < all; a++ {
		if !s.IsQuorum(a) {
			continue
		}
		for i := range n {
			if b := a | Set(1)<<i; b != a && !s.IsQuorum(b) {
				return invalid("%v: not monotone: %s is a quorum but its superset %s is not",
					s, formatIDs(Members(s.Nodes(), a)), formatIDs(Members(s.Nodes(), b)))
			}
		}
	}
	return nil
}

// findDisjoint looks for a q1 quorum A whose complement holds a q2 quorum.
// For monotone systems that exists iff some q1 and q2 quorums are disjoint,
// so 2^n tests of q1 suffice.
func findDisjoint(q1, q2 System, n int) error {
	all := Full(n)
	for a := Set(0); ; a++ {
		if q1.IsQuorum(a) && q2.IsQuorum(all&^a) {
			nodes := q1.Nodes()
			return &DisjointError{
				Q1: q1, Q2: q2,
				A: Members(nodes, shrink(q1, a, n)),
				B: Members(nodes, shrink(q2, all&^a, n)),
			}
		}
		if a == all {
			return nil
		}
	}
}

// shrink drops nodes from the quorum s, lowest position first, as long as it
// stays a quorum, and returns the minimal quorum left.
func shrink(sys System, s Set, n int) Set {
	for i := range n {
		if t := s &^ (Set(1) << i); t != s && sys.IsQuorum(t) {
			s = t
		}
	}
	return s
}
