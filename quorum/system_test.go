package quorum

import (
	"fmt"
	"testing"

	"github.com/ailidani/paxi-style/paxi"
)

func TestResultString(t *testing.T) {
	for r, want := range map[Result]string{Pending: "pending", Won: "won", Lost: "lost", Result(7): "Result(7)"} {
		if got := r.String(); got != want {
			t.Errorf("Result(%d).String() = %q, want %q", int(r), got, want)
		}
	}
	if (Result(0)) != Pending {
		t.Error("the zero Result must be Pending")
	}
}

func TestConstructorErrors(t *testing.T) {
	three := zoned(3)
	tooMany := zoned(65)
	ragged := zoned(3, 2)
	for _, tc := range []struct {
		name string
		err  func() error
		want string
	}{
		{"no nodes", func() error { _, err := Majority(nil); return err }, "majority: no nodes"},
		{"65 nodes", func() error { _, err := Majority(tooMany); return err }, "65 nodes: at most 64 are supported"},
		{"duplicate", func() error { _, err := Count(ids("1.1", "1.2", "1.1"), 1); return err }, "count: node 1.1 is listed twice"},
		{"zone 0", func() error { _, err := Majority([]paxi.ID{paxi.NewID(0, 1)}); return err }, "node 0.1: zone and node numbers start at 1"},
		{"node 0", func() error { _, err := Majority([]paxi.ID{paxi.NewID(1, 0)}); return err }, "node 1.0: zone and node numbers start at 1"},
		{"count 0", func() error { _, err := Count(three, 0); return err }, "count: k = 0 with 3 nodes: need 1 <= k <= n"},
		{"count n+1", func() error { _, err := Count(three, 4); return err }, "count: k = 4 with 3 nodes: need 1 <= k <= n"},
		{"fast 0", func() error { _, err := Fast(three, 0); return err }, "fast: size = 0 with 3 nodes: need 1 <= size <= n"},
		{"fast too small", func() error { _, err := Fast(zoned(4), 2); return err },
			"fast: size = 2 with 4 nodes: two fast quorums could miss each other: need 2*size > n"},
		{"grid ragged", func() error { _, err := AllOfSomeZone(ragged); return err },
			"all-of-some-zone: nodes must form a complete grid, every zone with the same node numbers: zone 1 has nodes [1 2 3] but zone 2 has [1 2]"},
		{"grid numbers differ", func() error { _, err := OneFromEveryZone(ids("1.1", "1.2", "2.1", "2.3")); return err },
			"one-from-every-zone: nodes must form a complete grid, every zone with the same node numbers: zone 1 has nodes [1 2] but zone 2 has [1 3]"},
		{"zone missing", func() error { _, err := ZoneMajority(grid(3, 3), 4); return err }, "zone-majority: zone 4 has no nodes (zones are [1 2 3])"},
		{"fgrid fz<0", func() error { _, _, err := FGrid(grid(3, 3), -1); return err }, "fgrid: fz = -1 with 3 zones: need 0 <= fz < zones"},
		{"fgrid fz=Z", func() error { _, _, err := FGrid(grid(3, 3), 3); return err }, "fgrid: fz = 3 with 3 zones: need 0 <= fz < zones"},
		{"fgrid no nodes", func() error { _, _, err := FGrid(nil, 0); return err }, "fgrid: no nodes"},
		{"flexible q1=0", func() error { _, _, err := Flexible(zoned(5), 0, 5); return err }, "flexible: q1 = 0 with 5 nodes: need 1 <= q1 <= n"},
		{"flexible q2>n", func() error { _, _, err := Flexible(zoned(5), 5, 6); return err }, "flexible: q2 = 6 with 5 nodes: need 1 <= q2 <= n"},
		{"flexible disjoint", func() error { _, _, err := Flexible(zoned(5), 2, 3); return err },
			"quorum: invalid system: flexible: phase-1 quorum of 2 and phase-2 quorum of 3 out of 5 nodes can miss each other: need q1+q2 > n"},
	} {
		t.Run(tc.name, func(t *testing.T) { mustErr(t, tc.err(), tc.want) })
	}
}

func TestConstructorsCopyAndSortNodes(t *testing.T) {
	in := ids("2.1", "1.2", "1.1", "2.2")
	s := must(OneFromEveryZone(in))
	in[0] = paxi.MustID("9.9")
	if got, want := formatIDs(s.Nodes()), "{1.1,1.2,2.1,2.2}"; got != want {
		t.Errorf("Nodes() = %s, want %s (sorted, and not aliasing the caller's slice)", got, want)
	}
}

func TestStrings(t *testing.T) {
	g := grid(3, 3)
	fq1, fq2, err := FGrid(g, 1)
	if err != nil {
		t.Fatal(err)
	}
	xq1, xq2, err := Flexible(zoned(5), 4, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sys  System
		want string
	}{
		{must(Majority(zoned(5))), "majority(3 of 5)"},
		{must(Majority(zoned(4))), "majority(3 of 4)"},
		{must(Count(zoned(5), 2)), "count(2 of 5)"},
		{must(Fast(zoned(7), FastQuorumSize(7))), "fast(5 of 7)"},
		{must(AllOfSomeZone(g)), "all-of-some-zone(zones=3,nodes=3)"},
		{must(OneFromEveryZone(g)), "one-from-every-zone(zones=3,nodes=3)"},
		{must(ZoneMajority(g, 2)), "zone-majority(zone=2,2 of 3)"},
		{must(MajorityInSomeZone(g)), "majority-in-some-zone(zones=3)"},
		{fq1, "fgrid-q1(fz=1,zones=3)"},
		{fq2, "fgrid-q2(fz=1,zones=3)"},
		{xq1, "count(4 of 5)"},
		{xq2, "count(2 of 5)"},
	} {
		if got := tc.sys.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
	if got, want := (Pair{fq1, fq2}).String(), "q1=fgrid-q1(fz=1,zones=3),q2=fgrid-q2(fz=1,zones=3)"; got != want {
		t.Errorf("Pair.String() = %q, want %q", got, want)
	}
}

// TestSystemsMatchReference compares the bitset implementation of every
// system with a predicate written from its definition, on every subset of
// every layout.
func TestSystemsMatchReference(t *testing.T) {
	for _, nodes := range layouts() {
		for _, e := range catalogue(t, nodes) {
			subsets(len(nodes), func(s Set) {
				members := Members(nodes, s)
				if got, want := e.sys.IsQuorum(s), e.ref(nodes, members); got != want {
					t.Errorf("%s: %v.IsQuorum(%s) = %v, want %v", name(nodes), e.sys, formatIDs(members), got, want)
				}
			})
			// Bits beyond the nodes must be ignored.
			if len(nodes) < 64 && e.sys.IsQuorum(^Full(len(nodes))) {
				t.Errorf("%s: %v counts nodes past the end", name(nodes), e.sys)
			}
		}
	}
}

// TestSystemsAreMonotone checks the contract Tracker relies on: a superset of
// a quorum is a quorum, and all nodes form one.
func TestSystemsAreMonotone(t *testing.T) {
	for _, nodes := range layouts() {
		for _, e := range catalogue(t, nodes) {
			if err := checkMonotone(e.sys, len(nodes)); err != nil {
				t.Errorf("%s: %v", name(nodes), err)
			}
		}
	}
}

func TestMajoritiesIntersect(t *testing.T) {
	for _, nodes := range layouts() {
		m := must(Majority(nodes))
		assertMeet(t, m, m)
	}
}

// TestFlexible checks every (q1, q2) for every n <= 9: valid pairs always
// meet, and every pair Flexible rejects really can miss (so the rule is
// exactly right, not merely safe).
func TestFlexible(t *testing.T) {
	for n := 1; n <= 9; n++ {
		nodes := zoned(n)
		for q1 := 0; q1 <= n+1; q1++ {
			for q2 := 0; q2 <= n+1; q2++ {
				a, b, err := Flexible(nodes, q1, q2)
				switch {
				case q1 < 1 || q1 > n:
					mustErr(t, err, fmt.Sprintf("q1 = %d with %d nodes", q1, n))
				case q2 < 1 || q2 > n:
					mustErr(t, err, fmt.Sprintf("q2 = %d with %d nodes", q2, n))
				case q1+q2 <= n:
					mustErr(t, err, fmt.Sprintf("phase-1 quorum of %d and phase-2 quorum of %d out of %d nodes can miss each other: need q1+q2 > n", q1, q2, n))
					assertMiss(t, must(Count(nodes, q1)), must(Count(nodes, q2)))
				default:
					if err != nil {
						t.Fatalf("Flexible(n=%d, %d, %d): %v", n, q1, q2, err)
					}
					assertMeet(t, a, b)
					if a.String() != fmt.Sprintf("count(%d of %d)", q1, n) || b.String() != fmt.Sprintf("count(%d of %d)", q2, n) {
						t.Errorf("Flexible(n=%d, %d, %d) = %v, %v", n, q1, q2, a, b)
					}
				}
			}
		}
	}
}

// TestGridQuorumsMeet: every all-of-some-zone quorum meets every
// one-from-every-zone quorum, while two quorums of the same kind can miss
// each other as soon as there is room: that is why the orientation matters.
func TestGridQuorumsMeet(t *testing.T) {
	for zones := 1; zones <= 3; zones++ {
		for per := 1; per <= 3; per++ {
			nodes := grid(zones, per)
			t.Run(fmt.Sprintf("%dx%d", zones, per), func(t *testing.T) {
				all := must(AllOfSomeZone(nodes))
				one := must(OneFromEveryZone(nodes))
				assertMeet(t, all, one)
				assertMeet(t, one, all)
				if zones > 1 {
					assertMiss(t, all, all)
				} else {
					assertMeet(t, all, all)
				}
				if per > 1 {
					assertMiss(t, one, one)
				} else {
					assertMeet(t, one, one)
				}
			})
		}
	}
}

func TestGridRejectsIncompleteGrids(t *testing.T) {
	for _, nodes := range layouts() {
		_, err1 := AllOfSomeZone(nodes)
		_, err2 := OneFromEveryZone(nodes)
		if isGrid(nodes) {
			if err1 != nil || err2 != nil {
				t.Errorf("%s: %v, %v", name(nodes), err1, err2)
			}
			continue
		}
		mustErr(t, err1, "nodes must form a complete grid")
		mustErr(t, err2, "nodes must form a complete grid")
	}
}

// TestFGrid: for every layout (uneven zones too) and every fz, every Q1
// meets every Q2; one zone fewer in Q2 would not do; with fz = 0, Q2 is
// "a majority in some zone".
func TestFGrid(t *testing.T) {
	for _, nodes := range layouts() {
		zs := len(zoneSizes(nodes))
		for fz := 0; fz < zs; fz++ {
			q1, q2, err := FGrid(nodes, fz)
			if err != nil {
				t.Fatalf("%s fz=%d: %v", name(nodes), fz, err)
			}
			assertMeet(t, q1, q2)
			if fz > 0 {
				l, _ := newLayout("test", nodes)
				weaker := newZoneSystem(l, func(z zoneInfo) int { return majority(z.size) }, fz, "fgrid-q2-minus-one-zone")
				assertMiss(t, q1, weaker)
			}
			if fz == 0 {
				some := must(MajorityInSomeZone(nodes))
				subsets(len(nodes), func(s Set) {
					if q2.IsQuorum(s) != some.IsQuorum(s) {
						t.Errorf("%s: fgrid fz=0 Q2 and majority-in-some-zone differ on %s", name(nodes), formatIDs(Members(nodes, s)))
					}
				})
			}
		}
	}
}

func TestZoneMajority(t *testing.T) {
	for _, nodes := range layouts() {
		for z := range zoneSizes(nodes) {
			s := must(ZoneMajority(nodes, z))
			assertMeet(t, s, s)
			// Only the zone's own nodes count.
			l, _ := newLayout("test", nodes)
			zi, _ := l.zone(z)
			subsets(len(nodes), func(set Set) {
				if s.IsQuorum(set) != s.IsQuorum(set&zi.mask) {
					t.Errorf("%s: %v counts nodes outside zone %d", name(nodes), s, z)
				}
			})
		}
	}
}

func TestFastQuorumSize(t *testing.T) {
	// n:        0  1  2  3  4  5  6  7  8  9  10 11
	want := []int{0, 1, 2, 2, 3, 3, 4, 5, 5, 6, 6, 8}
	for n, w := range want {
		if got := FastQuorumSize(n); got != w {
			t.Errorf("FastQuorumSize(%d) = %d, want %d", n, got, w)
		}
	}
	if got := FastQuorumSize(-1); got != 0 {
		t.Errorf("FastQuorumSize(-1) = %d, want 0", got)
	}
}

// TestFastQuorumProperties checks, exhaustively for n <= 9, the properties
// EPaxos needs from F + floor((F+1)/2): two fast quorums always meet, and a
// recovery majority that excludes the command leader L still holds at least
// floor((F+1)/2) members of any fast quorum that L belonged to.
func TestFastQuorumProperties(t *testing.T) {
	for n := 1; n <= 9; n++ {
		nodes := zoned(n)
		fast := must(Fast(nodes, FastQuorumSize(n)))
		maj := must(Majority(nodes))
		assertMeet(t, fast, fast)
		f := (n - 1) / 2
		need := (f + 1) / 2
		fqs, ms := quorums(fast), quorums(maj)
		for l := range n {
			leader := Set(1) << l
			for _, fq := range fqs {
				if fq&leader == 0 {
					continue
				}
				for _, m := range ms {
					if m&leader != 0 {
						continue
					}
					if got := (fq & m).Len(); got < need {
						t.Fatalf("n=%d: fast quorum %s (leader %v) and majority %s share %d nodes, want >= %d",
							n, formatIDs(Members(nodes, fq)), nodes[l], formatIDs(Members(nodes, m)), got, need)
					}
				}
			}
		}
	}
}

// TestEPaxosFastQuorumIsNotFastPaxos documents a trap: the EPaxos fast
// quorum size does not make two fast quorums and a majority share a node (the
// Fast Paxos condition), for any odd n >= 3. Basic EPaxos's 2F does, for
// F >= 2. Nothing in EPaxos relies on the three-way property; code that
// assumes it is wrong.
func TestEPaxosFastQuorumIsNotFastPaxos(t *testing.T) {
	threeWay := func(nodes []paxi.ID, size int) bool {
		fqs, ms := quorums(must(Count(nodes, size))), quorums(must(Majority(nodes)))
		for _, a := range fqs {
			for _, b := range fqs {
				for _, m := range ms {
					if a&b&m == 0 {
						return false
					}
				}
			}
		}
		return true
	}
	for f := 1; f <= 4; f++ {
		n := 2*f + 1
		nodes := zoned(n)
		if threeWay(nodes, FastQuorumSize(n)) {
			t.Errorf("n=%d: expected two EPaxos fast quorums of %d and a majority that share no node", n, FastQuorumSize(n))
		}
		if got, want := threeWay(nodes, 2*f), f >= 2; got != want {
			t.Errorf("n=%d: three-way intersection with fast quorums of 2F=%d: got %v, want %v", n, 2*f, got, want)
		}
	}
}
