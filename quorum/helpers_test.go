package quorum

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ailidani/paxi-style/paxi"
)

// zoned returns a layout whose zone i+1 has sizes[i] nodes, numbered from 1.
func zoned(sizes ...int) []paxi.ID {
	var ids []paxi.ID
	for z, n := range sizes {
		for i := 1; i <= n; i++ {
			ids = append(ids, paxi.NewID(z+1, i))
		}
	}
	return ids
}

// grid returns a complete grid of zones × perZone nodes.
func grid(zones, perZone int) []paxi.ID {
	sizes := make([]int, zones)
	for i := range sizes {
		sizes[i] = perZone
	}
	return zoned(sizes...)
}

// layouts returns every node layout the exhaustive tests cover: one zone of
// 1..9 nodes, every 2- and 3-zone layout with 1..3 nodes per zone (complete
// grids and uneven ones), and a few with gaps in the numbering.
func layouts() [][]paxi.ID {
	var ls [][]paxi.ID
	for n := 1; n <= 9; n++ {
		ls = append(ls, zoned(n))
	}
	for a := 1; a <= 3; a++ {
		for b := 1; b <= 3; b++ {
			ls = append(ls, zoned(a, b))
			for c := 1; c <= 3; c++ {
				ls = append(ls, zoned(a, b, c))
			}
		}
	}
	ls = append(ls,
		ids("1.2", "1.5", "1.9"),
		ids("1.1", "1.2", "3.1", "3.2"),
		ids("2.1", "2.3", "5.1", "5.3", "7.1", "7.3"),
	)
	return ls
}

func ids(ss ...string) []paxi.ID {
	out := make([]paxi.ID, len(ss))
	for i, s := range ss {
		out[i] = paxi.MustID(s)
	}
	return out
}

// isGrid reports whether every zone of nodes has the same node numbers,
// computed the dumb way.
func isGrid(nodes []paxi.ID) bool {
	byZone := map[int][]int{}
	for _, id := range nodes {
		byZone[id.Zone()] = append(byZone[id.Zone()], id.Node())
	}
	var first []int
	for _, ns := range byZone {
		slices.Sort(ns)
		if first == nil {
			first = ns
		} else if !slices.Equal(first, ns) {
			return false
		}
	}
	return true
}

// ref is a reference quorum predicate written straight from a definition:
// it sees the layout and a member list, never a bit mask.
type ref func(nodes, members []paxi.ID) bool

// zoneSizes and zoneCounts count nodes per zone with maps.
func zoneSizes(nodes []paxi.ID) map[int]int {
	m := map[int]int{}
	for _, id := range nodes {
		m[id.Zone()]++
	}
	return m
}

func refMajority(nodes, m []paxi.ID) bool { return 2*len(m) > len(nodes) }

func refCount(k int) ref {
	return func(_, m []paxi.ID) bool { return len(m) >= k }
}

func refAllOfSomeZone(nodes, m []paxi.ID) bool {
	sizes, got := zoneSizes(nodes), zoneSizes(m)
	for z, n := range sizes {
		if got[z] == n {
			return true
		}
	}
	return false
}

func refOneFromEveryZone(nodes, m []paxi.ID) bool {
	got := zoneSizes(m)
	for z := range zoneSizes(nodes) {
		if got[z] == 0 {
			return false
		}
	}
	return true
}

func refZoneMajority(zone int) ref {
	return func(nodes, m []paxi.ID) bool { return 2*zoneSizes(m)[zone] > zoneSizes(nodes)[zone] }
}

// refZoneMajorities: a majority of their own nodes in at least k zones.
func refZoneMajorities(k int) ref {
	return func(nodes, m []paxi.ID) bool {
		sizes, got, ok := zoneSizes(nodes), zoneSizes(m), 0
		for z, n := range sizes {
			if 2*got[z] > n {
				ok++
			}
		}
		return ok >= k
	}
}

// entry is one system of the catalogue with its reference predicate.
type entry struct {
	sys System
	ref ref
}

// catalogue builds every system this package offers over nodes (the grid
// ones only on complete grids), each with its reference predicate.
func catalogue(t testing.TB, nodes []paxi.ID) []entry {
	t.Helper()
	var es []entry
	add := func(s System, err error, r ref) {
		t.Helper()
		if err != nil {
			t.Fatalf("layout %s: %v", formatIDs(nodes), err)
		}
		es = append(es, entry{s, r})
	}
	n := len(nodes)
	zs := zoneSizes(nodes)
	zones := make([]int, 0, len(zs))
	for z := range zs {
		zones = append(zones, z)
	}
	slices.Sort(zones)

	s, err := Majority(nodes)
	add(s, err, refMajority)
	for k := 1; k <= n; k++ {
		s, err = Count(nodes, k)
		add(s, err, refCount(k))
	}
	s, err = Fast(nodes, FastQuorumSize(n))
	add(s, err, refCount(FastQuorumSize(n)))
	if isGrid(nodes) {
		s, err = AllOfSomeZone(nodes)
		add(s, err, refAllOfSomeZone)
		s, err = OneFromEveryZone(nodes)
		add(s, err, refOneFromEveryZone)
	}
	for _, z := range zones {
		s, err = ZoneMajority(nodes, z)
		add(s, err, refZoneMajority(z))
	}
	s, err = MajorityInSomeZone(nodes)
	add(s, err, refZoneMajorities(1))
	for fz := 0; fz < len(zones); fz++ {
		q1, q2, err := FGrid(nodes, fz)
		add(q1, err, refZoneMajorities(len(zones)-fz))
		add(q2, err, refZoneMajorities(fz+1))
	}
	return es
}

// subsets calls f with every subset of n nodes.
func subsets(n int, f func(Set)) {
	for s := Set(0); s <= Full(n); s++ {
		f(s)
	}
}

// quorums lists every quorum of sys, by enumeration.
func quorums(sys System) []Set {
	var qs []Set
	subsets(len(sys.Nodes()), func(s Set) {
		if sys.IsQuorum(s) {
			qs = append(qs, s)
		}
	})
	return qs
}

// disjointPair returns a quorum of q1 and a quorum of q2 with no node in
// common, by trying every pair; ok is false if there is none.
func disjointPair(q1, q2 System) (a, b Set, ok bool) {
	qs2 := quorums(q2)
	for _, a := range quorums(q1) {
		for _, b := range qs2 {
			if a&b == 0 {
				return a, b, true
			}
		}
	}
	return 0, 0, false
}

// assertMeet fails unless every quorum of q1 meets every quorum of q2.
func assertMeet(t *testing.T, q1, q2 System) {
	t.Helper()
	if a, b, ok := disjointPair(q1, q2); ok {
		nodes := q1.Nodes()
		t.Errorf("%v quorum %s and %v quorum %s are disjoint",
			q1, formatIDs(Members(nodes, a)), q2, formatIDs(Members(nodes, b)))
	}
}

// assertMiss fails unless some quorum of q1 misses some quorum of q2.
func assertMiss(t *testing.T, q1, q2 System) {
	t.Helper()
	if _, _, ok := disjointPair(q1, q2); !ok {
		t.Errorf("every %v quorum meets every %v quorum; expected a disjoint pair", q1, q2)
	}
}

// mustErr fails unless err wraps ErrInvalid and contains want.
func mustErr(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not contain %q", err, want)
	}
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("error %q does not wrap ErrInvalid", err)
	}
}

// must unwraps the result of a constructor in test setup. Failing setup is a
// bug in the test or the package; the panic fails the test with its message.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func name(nodes []paxi.ID) string { return fmt.Sprintf("nodes=%s", formatIDs(nodes)) }
