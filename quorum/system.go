package quorum

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ailidani/paxi-style/paxi"
)

// ErrInvalid is wrapped by every error about a badly built quorum system: a
// constructor given bad parameters, or a System that breaks the contract
// (unsorted nodes, not monotone, no quorum at all). Test with errors.Is.
var ErrInvalid = errors.New("quorum: invalid system")

// invalid returns an error wrapping ErrInvalid.
func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

// System is a quorum system over a fixed set of nodes: it says which sets of
// nodes are quorums. Protocols take their phase-1 and phase-2 quorums as
// Systems, so that FPaxos, WPaxos and VPaxos can be Multi-Paxos with other
// Systems plugged in.
//
// The constructors of this package build every System the protocols need.
// A protocol may also implement its own (e.g. VPaxos per-configuration
// quorums); it must then keep this contract, which Tracker and
// CheckIntersection rely on:
//
//   - Nodes is non-empty, sorted, free of duplicates, at most MaxNodes long,
//     and the same slice on every call (callers must not modify it);
//   - IsQuorum is a pure function of its argument and ignores bits at
//     positions >= len(Nodes());
//   - IsQuorum is monotone: a superset of a quorum is a quorum. That is what
//     lets a Tracker declare a vote lost as soon as the nodes that have not
//     NACKed no longer form a quorum;
//   - the set of all nodes is a quorum;
//   - String is deterministic, so that logs and golden files are stable.
type System interface {
	// Nodes returns the nodes the system is built over, sorted. Set bit i
	// stands for Nodes()[i].
	Nodes() []paxi.ID
	// IsQuorum reports whether s contains a quorum.
	IsQuorum(s Set) bool
	// String names the system and its parameters, e.g. "majority(3 of 5)".
	String() string
}

// zoneInfo is one zone of a layout: its number and the mask of its nodes.
type zoneInfo struct {
	zone int
	mask Set
	size int
}

// layout is the validated node list every System of this package is built
// on, with the per-zone masks precomputed so that zone predicates cost one
// popcount per zone.
type layout struct {
	nodes []paxi.ID
	all   Set
	zones []zoneInfo // sorted by zone number
}

// Nodes implements System.
func (l *layout) Nodes() []paxi.ID { return l.nodes }

// checkNodes checks the System contract on a node list without copying it.
func checkNodes(nodes []paxi.ID) error {
	if len(nodes) == 0 {
		return errors.New("no nodes")
	}
	if len(nodes) > MaxNodes {
		return fmt.Errorf("%d nodes: at most %d are supported (a Set is one 64-bit word)", len(nodes), MaxNodes)
	}
	for i, id := range nodes {
		if id.Zone() == 0 || id.Node() == 0 {
			return fmt.Errorf("node %v: zone and node numbers start at 1", id)
		}
		if i > 0 && nodes[i-1] >= id {
			if nodes[i-1] == id {
				return fmt.Errorf("node %v is listed twice", id)
			}
			return fmt.Errorf("nodes %v: not sorted (%v before %v)", formatIDs(nodes), nodes[i-1], id)
		}
	}
	return nil
}

// newLayout copies and sorts nodes, validates them and computes the zones.
// kind names the constructor in errors.
func newLayout(kind string, nodes []paxi.ID) (layout, error) {
	ns := slices.Clone(nodes)
	slices.Sort(ns)
	if err := checkNodes(ns); err != nil {
		return layout{}, invalid("%s: %v", kind, err)
	}
	l := layout{nodes: ns, all: Full(len(ns))}
	for i, id := range ns {
		if len(l.zones) == 0 || l.zones[len(l.zones)-1].zone != id.Zone() {
			l.zones = append(l.zones, zoneInfo{zone: id.Zone()})
		}
		z := &l.zones[len(l.zones)-1]
		z.mask |= Set(1) << i
		z.size++
	}
	return l, nil
}

// zone returns the zone numbered z, if there is one.
func (l *layout) zone(z int) (zoneInfo, bool) {
	for _, zi := range l.zones {
		if zi.zone == z {
			return zi, true
		}
	}
	return zoneInfo{}, false
}

// zoneNumbers returns the zone numbers, for error messages.
func (l *layout) zoneNumbers() []int {
	zs := make([]int, len(l.zones))
	for i, z := range l.zones {
		zs[i] = z.zone
	}
	return zs
}

// checkGrid requires every zone to hold the same node numbers, so that the
// nodes form a complete zones × nodes grid.
func (l *layout) checkGrid(kind string) error {
	numbers := func(z zoneInfo) []int {
		var ns []int
		for i, id := range l.nodes {
			if z.mask.Has(i) {
				ns = append(ns, id.Node())
			}
		}
		return ns
	}
	first := numbers(l.zones[0])
	for _, z := range l.zones[1:] {
		if got := numbers(z); !slices.Equal(got, first) {
			return invalid("%s: nodes must form a complete grid, every zone with the same node numbers: zone %d has nodes %v but zone %d has %v",
				kind, l.zones[0].zone, first, z.zone, got)
		}
	}
	return nil
}

// countSystem: a quorum is any k nodes of mask. Majority, Count, Fast and
// ZoneMajority are all of this shape.
type countSystem struct {
	layout
	mask Set
	k    int
	name string
}

// IsQuorum implements System.
func (c *countSystem) IsQuorum(s Set) bool { return (s & c.mask).Len() >= c.k }

// String implements System.
func (c *countSystem) String() string { return c.name }

// zoneSystem: a quorum holds at least need nodes in each of at least zones
// zones; need is per zone (need[i] for layout.zones[i]). The grid, FGrid and
// zone-majority predicates are all of this shape.
type zoneSystem struct {
	layout
	need  []int
	zones int
	name  string
}

// IsQuorum implements System.
func (z *zoneSystem) IsQuorum(s Set) bool {
	ok := 0
	for i, zi := range z.layout.zones {
		if (s & zi.mask).Len() >= z.need[i] {
			ok++
			if ok >= z.zones {
				return true
			}
		}
	}
	return false
}

// String implements System.
func (z *zoneSystem) String() string { return z.name }

// newZoneSystem builds a zoneSystem; need maps a zone to its per-zone count.
func newZoneSystem(l layout, need func(zoneInfo) int, zones int, name string) *zoneSystem {
	z := &zoneSystem{layout: l, need: make([]int, len(l.zones)), zones: zones, name: name}
	for i, zi := range l.zones {
		z.need[i] = need(zi)
	}
	return z
}

// majority returns the size of a majority of n.
func majority(n int) int { return n/2 + 1 }

// Majority returns the classic quorum system: any more than half of the
// nodes. Any two majorities share a node, so it serves as both phase-1 and
// phase-2 quorum of Multi-Paxos and Raft, and tolerates (N-1)/2 failures.
func Majority(nodes []paxi.ID) (System, error) {
	l, err := newLayout("majority", nodes)
	if err != nil {
		return nil, err
	}
	n := len(l.nodes)
	return &countSystem{layout: l, mask: l.all, k: majority(n), name: fmt.Sprintf("majority(%d of %d)", majority(n), n)}, nil
}

// Count returns the system whose quorums are any k of the nodes, 1 <= k <= N.
// It is the building block of count-based flexible quorums (see Flexible):
// two Count systems are safe together only if their sizes add up to more
// than N.
func Count(nodes []paxi.ID, k int) (System, error) {
	return count("count", "k", nodes, k)
}

func count(kind, param string, nodes []paxi.ID, k int) (*countSystem, error) {
	l, err := newLayout(kind, nodes)
	if err != nil {
		return nil, err
	}
	n := len(l.nodes)
	if k < 1 || k > n {
		return nil, invalid("%s: %s = %d with %d nodes: need 1 <= %s <= n", kind, param, k, n, param)
	}
	return &countSystem{layout: l, mask: l.all, k: k, name: fmt.Sprintf("%s(%d of %d)", kind, k, n)}, nil
}

// FastQuorumSize returns the fast-path quorum size of optimized EPaxos for n
// nodes: F + floor((F+1)/2) with F = (n-1)/2 the failures a majority
// tolerates, but never less than a majority (which matters for n = 1 and for
// even n, where the formula alone would let two fast quorums miss each
// other).
//
// Two properties follow, and the tests check both exhaustively: any two fast
// quorums share a node, and every fast quorum shares at least
// floor((F+1)/2) nodes with every majority, even one that excludes the
// command leader (what EPaxos recovery counts on). It does NOT make any two
// fast quorums and a majority share a common node (the Fast Paxos condition):
// EPaxos does not need that, and for this size it is false, e.g. for n = 3 or
// n = 5. For n < 1 it returns 0, which Fast rejects.
func FastQuorumSize(n int) int {
	if n < 1 {
		return 0
	}
	f := (n - 1) / 2
	return max(f+(f+1)/2, majority(n))
}

// Fast returns a fast-path quorum system: any size of the nodes. It is a
// Count with a name of its own, and it insists that 2*size > N, because a
// fast path is only safe if two fast quorums always share a node (otherwise
// two conflicting commands could both commit on the fast path unseen by each
// other). For EPaxos use FastQuorumSize(N).
func Fast(nodes []paxi.ID, size int) (System, error) {
	c, err := count("fast", "size", nodes, size)
	if err != nil {
		return nil, err
	}
	if n := len(c.nodes); 2*size <= n {
		return nil, invalid("fast: size = %d with %d nodes: two fast quorums could miss each other: need 2*size > n", size, n)
	}
	return c, nil
}

// AllOfSomeZone returns the system whose quorums contain every node of at
// least one zone. With zones as rows and node numbers as columns it is "one
// full row" of the grid; Paxi calls it GridColumn, which is easy to confuse.
//
// Every all-of-some-zone quorum meets every OneFromEveryZone quorum (the
// latter has a node in the zone the former covers), so the two form a pair of
// grid quorums, in either order; two all-of-some-zone quorums, however, can
// miss each other when there are several zones. WPaxos with fz = 0 in Paxi
// uses Q1 = OneFromEveryZone and Q2 = AllOfSomeZone: commits stay in the
// leader's zone but need every node there.
//
// The nodes must form a complete grid (every zone has the same node numbers);
// anything else is most likely a configuration mistake.
func AllOfSomeZone(nodes []paxi.ID) (System, error) {
	l, err := newLayout("all-of-some-zone", nodes)
	if err != nil {
		return nil, err
	}
	if err := l.checkGrid("all-of-some-zone"); err != nil {
		return nil, err
	}
	name := fmt.Sprintf("all-of-some-zone(zones=%d,nodes=%d)", len(l.zones), l.zones[0].size)
	return newZoneSystem(l, func(z zoneInfo) int { return z.size }, 1, name), nil
}

// OneFromEveryZone returns the system whose quorums contain at least one
// node of every zone. With zones as rows it holds "one full column" of the
// grid, or more generally one node from each row; Paxi calls it GridRow (and PROTOCOLS.md also
// AllZones). It meets every AllOfSomeZone quorum; see there.
//
// The nodes must form a complete grid (every zone has the same node numbers).
func OneFromEveryZone(nodes []paxi.ID) (System, error) {
	l, err := newLayout("one-from-every-zone", nodes)
	if err != nil {
		return nil, err
	}
	if err := l.checkGrid("one-from-every-zone"); err != nil {
		return nil, err
	}
	name := fmt.Sprintf("one-from-every-zone(zones=%d,nodes=%d)", len(l.zones), l.zones[0].size)
	return newZoneSystem(l, func(zoneInfo) int { return 1 }, len(l.zones), name), nil
}

// ZoneMajority returns the system whose quorums are a majority of the nodes
// of the given zone: the zone-local replication quorum of WanKeeper. It is
// built over all the given nodes (so that its Sets line up with the other
// systems of the cluster), but votes from other zones never count.
func ZoneMajority(nodes []paxi.ID, zone int) (System, error) {
	l, err := newLayout("zone-majority", nodes)
	if err != nil {
		return nil, err
	}
	z, ok := l.zone(zone)
	if !ok {
		return nil, invalid("zone-majority: zone %d has no nodes (zones are %v)", zone, l.zoneNumbers())
	}
	k := majority(z.size)
	return &countSystem{layout: l, mask: z.mask, k: k, name: fmt.Sprintf("zone-majority(zone=%d,%d of %d)", zone, k, z.size)}, nil
}

// MajorityInSomeZone returns the system whose quorums contain a majority of
// the nodes of at least one zone, whichever it is. It is the phase-2 quorum
// of FGrid with fz = 0 (and equal to it): a leader commits with its own
// zone. Zones may differ in size; each needs a majority of its own nodes.
func MajorityInSomeZone(nodes []paxi.ID) (System, error) {
	l, err := newLayout("majority-in-some-zone", nodes)
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("majority-in-some-zone(zones=%d)", len(l.zones))
	return newZoneSystem(l, func(z zoneInfo) int { return majority(z.size) }, 1, name), nil
}

// describe prints a System with its nodes, for panics and errors where the
// node list matters.
func describe(s System) string {
	var b strings.Builder
	b.WriteString(s.String())
	b.WriteString(" over ")
	b.WriteString(formatIDs(s.Nodes()))
	return b.String()
}
