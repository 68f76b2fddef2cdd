package quorum

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/ailidani/paxi-style/paxi"
)

// checkCounterexample fails unless err is a *DisjointError whose sets are a
// minimal q1 quorum and a minimal q2 quorum with no node in common, named in
// the message.
func checkCounterexample(t *testing.T, err error, q1, q2 System) {
	t.Helper()
	var de *DisjointError
	if !errors.As(err, &de) {
		t.Fatalf("CheckIntersection(%v, %v) = %v, want a *DisjointError", q1, q2, err)
	}
	nodes := q1.Nodes()
	a := must(SetOf(nodes, de.A...))
	b := must(SetOf(nodes, de.B...))
	if !q1.IsQuorum(a) || !q2.IsQuorum(b) || a&b != 0 {
		t.Fatalf("bad counterexample %v: A quorum=%v, B quorum=%v, disjoint=%v", err, q1.IsQuorum(a), q2.IsQuorum(b), a&b == 0)
	}
	for i := range nodes {
		if a.Has(i) && q1.IsQuorum(a&^(Set(1)<<i)) || b.Has(i) && q2.IsQuorum(b&^(Set(1)<<i)) {
			t.Fatalf("counterexample %v is not minimal: %v can be dropped", err, nodes[i])
		}
	}
	for _, s := range []string{q1.String(), q2.String(), formatIDs(de.A), formatIDs(de.B)} {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("error %q does not name %s", err, s)
		}
	}
}

// TestCheckIntersectionAgreesWithBruteForce runs CheckIntersection on every
// pair of catalogue systems over small layouts and compares its verdict with
// trying every pair of quorums.
func TestCheckIntersectionAgreesWithBruteForce(t *testing.T) {
	for _, nodes := range layouts() {
		if len(nodes) > 7 {
			continue // 7 nodes already give every verdict; keep the test fast
		}
		cat := catalogue(t, nodes)
		for _, e1 := range cat {
			for _, e2 := range cat {
				_, _, miss := disjointPair(e1.sys, e2.sys)
				err := CheckIntersection(e1.sys, e2.sys)
				if miss {
					checkCounterexample(t, err, e1.sys, e2.sys)
				} else if err != nil {
					t.Errorf("%s: CheckIntersection(%v, %v) = %v, but every pair meets", name(nodes), e1.sys, e2.sys, err)
				}
			}
		}
	}
}

func TestCheckIntersectionMessage(t *testing.T) {
	nodes := zoned(5)
	err := CheckIntersection(must(Count(nodes, 2)), must(Count(nodes, 3)))
	want := "quorum: count(2 of 5) and count(3 of 5) can miss each other: {1.1,1.2} is a phase-1 quorum and {1.3,1.4,1.5} a phase-2 quorum with no node in common"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
}

// custom is a System given by a function, to test the contract checks.
type custom struct {
	nodes []paxi.ID
	f     func(Set) bool
	name  string
}

func (c custom) Nodes() []paxi.ID    { return c.nodes }
func (c custom) IsQuorum(s Set) bool { return c.f(s) }
func (c custom) String() string      { return c.name }

func TestCheckIntersectionContract(t *testing.T) {
	three := zoned(3)
	maj := must(Majority(three))
	for _, tc := range []struct {
		name   string
		q1, q2 System
		want   string
	}{
		{"not monotone", custom{three, func(s Set) bool { return s.Len()%2 == 1 }, "odd"}, maj,
			"odd: not monotone: {1.1} is a quorum but its superset {1.1,1.2} is not"},
		{"no quorum", maj, custom{three, func(Set) bool { return false }, "never"}, "never: has no quorum"},
		{"unsorted", custom{ids("1.2", "1.1"), func(Set) bool { return true }, "unsorted"}, maj, "unsorted: nodes {1.2,1.1}: not sorted"},
		{"empty", custom{nil, func(Set) bool { return true }, "empty"}, maj, "empty: no nodes"},
		{"different nodes", maj, must(Majority(zoned(4))), "majority(2 of 3) over {1.1,1.2,1.3} and majority(3 of 4) over {1.1,1.2,1.3,1.4} are over different nodes"},
		{"too many", must(Majority(zoned(21))), must(Majority(zoned(21))), "21 nodes: CheckIntersection enumerates all 2^n sets and stops at 20 nodes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustErr(t, CheckIntersection(tc.q1, tc.q2), tc.want)
			_, err := NewPair(tc.q1, tc.q2)
			mustErr(t, err, tc.want)
		})
	}
}

func TestNewPair(t *testing.T) {
	g := grid(3, 3)
	all, one := must(AllOfSomeZone(g)), must(OneFromEveryZone(g))
	p, err := NewPair(one, all)
	if err != nil || p.Q1 != one || p.Q2 != all {
		t.Fatalf("NewPair(one, all) = %v, %v", p, err)
	}
	_, err = NewPair(all, all)
	checkCounterexample(t, err, all, all)
}

// TestConstructorsProvePairs checks that the constructors' own proof runs
// (and passes) up to its limit, and that larger clusters still build.
func TestConstructorsProvePairs(t *testing.T) {
	for _, tc := range []struct {
		nodes  []paxi.ID
		q1, q2 int
	}{{zoned(16), 12, 5}, {zoned(17), 15, 3}, {zoned(64), 33, 32}} {
		a, b, err := Flexible(tc.nodes, tc.q1, tc.q2)
		if err != nil || a == nil || b == nil {
			t.Errorf("Flexible(n=%d, %d, %d) = %v, %v, %v", len(tc.nodes), tc.q1, tc.q2, a, b, err)
		}
	}
	for _, nodes := range [][]paxi.ID{grid(4, 4), grid(5, 3), grid(8, 8)} {
		for fz := range len(zoneSizes(nodes)) {
			if _, _, err := FGrid(nodes, fz); err != nil {
				t.Errorf("FGrid(%d nodes, %d): %v", len(nodes), fz, err)
			}
		}
	}
	// The proof itself panics on an unsafe pair.
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "quorum: bug: test built a pair that is not safe") {
			t.Errorf("mustIntersect on a disjoint pair: recovered %v", r)
		}
	}()
	mustIntersect("test", must(Count(zoned(4), 2)), must(Count(zoned(4), 2)))
}

func TestSetHelpers(t *testing.T) {
	nodes := ids("1.1", "1.2", "2.1", "2.2")
	s := must(SetOf(nodes, paxi.MustID("2.2"), paxi.MustID("1.1"), paxi.MustID("1.1")))
	if s != 0b1001 || s.Len() != 2 || !s.Has(0) || s.Has(1) {
		t.Errorf("SetOf = %04b", s)
	}
	if got := formatIDs(Members(nodes, s)); got != "{1.1,2.2}" {
		t.Errorf("Members = %s", got)
	}
	_, err := SetOf(nodes, paxi.MustID("3.1"))
	mustErr(t, err, "node 3.1 is not one of {1.1,1.2,2.1,2.2}")
	if Full(0) != 0 || Full(3) != 0b111 || Full(64) != ^Set(0) {
		t.Errorf("Full: %b %b %b", Full(0), Full(3), Full(64))
	}
	if i, ok := IndexOf(nodes, paxi.MustID("2.1")); i != 2 || !ok {
		t.Errorf("IndexOf(2.1) = %d, %v", i, ok)
	}
}
