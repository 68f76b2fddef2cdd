package quorum

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"testing/quick"

	"github.com/ailidani/paxi-style/paxi"
)

type vote struct {
	id        string
	ack       bool
	wantFirst bool
	want      Result
}

func TestTrackerTransitions(t *testing.T) {
	g := grid(3, 3)
	fq1, fq2, err := FGrid(g, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		sys   System
		votes []vote
	}{
		{"majority wins", must(Majority(zoned(3))), []vote{
			{"1.1", true, true, Pending},
			{"1.1", true, false, Pending}, // a retransmitted ACK counts once
			{"1.2", false, true, Pending},
			{"1.3", true, true, Won},
		}},
		{"majority loses", must(Majority(zoned(3))), []vote{
			{"1.1", false, true, Pending},
			{"1.2", false, true, Lost},
			{"1.3", true, true, Lost}, // Lost is final
		}},
		{"even majority loses early", must(Majority(zoned(4))), []vote{
			{"1.1", false, true, Pending},
			{"1.2", false, true, Lost}, // 2 left, 3 needed
		}},
		{"first vote wins", must(Majority(zoned(3))), []vote{
			{"1.1", true, true, Pending},
			{"1.1", false, false, Pending}, // a later NACK does not undo the ACK
			{"1.2", false, true, Pending},
			{"1.2", true, false, Pending}, // nor a later ACK the NACK
			{"1.3", true, true, Won},
		}},
		{"won is final", must(Count(zoned(3), 1)), []vote{
			{"1.2", true, true, Won},
			{"1.1", false, true, Won},
			{"1.3", false, true, Won},
		}},
		{"fgrid fz=0 Q2 is zone-local", fq2, []vote{
			{"1.1", true, true, Pending},
			{"2.1", true, true, Pending},
			{"3.1", true, true, Pending},
			{"2.2", true, true, Won},
		}},
		{"fgrid fz=0 Q1 needs every zone", fq1, []vote{
			{"1.1", true, true, Pending},
			{"2.1", true, true, Pending},
			{"2.2", true, true, Pending},
			{"3.1", false, true, Pending},
			{"3.3", false, true, Lost},
		}},
		{"zone majority ignores other zones", must(ZoneMajority(g, 2)), []vote{
			{"1.1", true, true, Pending},
			{"1.2", true, true, Pending},
			{"3.1", true, true, Pending},
			{"3.2", true, true, Pending},
			{"2.3", false, true, Pending},
			{"1.3", false, true, Pending},
			{"2.1", false, true, Lost},
		}},
		{"one-from-every-zone lost when a zone NACKs", must(OneFromEveryZone(g)), []vote{
			{"3.1", false, true, Pending},
			{"3.2", false, true, Pending},
			{"1.1", true, true, Pending},
			{"3.3", false, true, Lost},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTracker(tc.sys)
			if tr.Result() != Pending {
				t.Fatalf("fresh tracker: %v", tr.Result())
			}
			for i, v := range tc.votes {
				id := paxi.MustID(v.id)
				if first := tr.Add(id, v.ack); first != v.wantFirst {
					t.Fatalf("vote %d (%s ack=%v): Add = %v, want %v", i, v.id, v.ack, first, v.wantFirst)
				}
				if !tr.Voted(id) {
					t.Fatalf("vote %d: Voted(%s) = false", i, v.id)
				}
				if got := tr.Result(); got != v.want {
					t.Fatalf("after vote %d (%s ack=%v): %v, want %v (%s)", i, v.id, v.ack, got, v.want, tr.String())
				}
			}
		})
	}
}

func TestTrackerResetAndCopy(t *testing.T) {
	tr := NewTracker(must(Majority(zoned(3))))
	tr.Ack(paxi.MustID("1.1"))
	tr.Ack(paxi.MustID("1.2"))
	snapshot := tr
	tr.Reset()
	if tr.Result() != Pending || tr.Acks() != 0 || tr.Nacks() != 0 || tr.Voted(paxi.MustID("1.1")) {
		t.Fatalf("after Reset: %s", tr.String())
	}
	if !tr.Nack(paxi.MustID("1.1")) || tr.Nacks() != 0b001 {
		t.Fatalf("a node may vote again after Reset: %s", tr.String())
	}
	if snapshot.Result() != Won || snapshot.Acks() != 0b011 {
		t.Fatalf("a copy must keep its own votes: %s", snapshot.String())
	}
}

func TestTrackerString(t *testing.T) {
	tr := NewTracker(must(Majority(zoned(3))))
	tr.Ack(paxi.MustID("1.3"))
	tr.Nack(paxi.MustID("1.1"))
	if got, want := tr.String(), "majority(2 of 3): pending acks={1.3} nacks={1.1}"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if tr.System().String() != "majority(2 of 3)" {
		t.Errorf("System() = %v", tr.System())
	}
}

func expectPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil || !strings.Contains(fmt.Sprint(r), want) {
			t.Errorf("recovered %v, want a panic containing %q", r, want)
		}
	}()
	f()
}

func TestTrackerPanics(t *testing.T) {
	tr := NewTracker(must(Majority(zoned(3))))
	expectPanic(t, "quorum: vote from 2.1, which is not a node of majority(2 of 3) over {1.1,1.2,1.3}", func() { tr.Ack(paxi.MustID("2.1")) })
	expectPanic(t, "vote from 1.4", func() { tr.Nack(paxi.MustID("1.4")) })
	expectPanic(t, "vote from 1.9", func() { tr.Voted(paxi.MustID("1.9")) })
	expectPanic(t, "quorum: NewTracker(unsorted): nodes {1.2,1.1}: not sorted", func() {
		NewTracker(custom{ids("1.2", "1.1"), func(Set) bool { return true }, "unsorted"})
	})
	expectPanic(t, "quorum: NewTracker(never): has no quorum", func() {
		NewTracker(custom{ids("1.1"), func(Set) bool { return false }, "never"})
	})
}

// refTracker is the dumb reference: a map of first votes, and Won/Lost from
// the definitions ("the ACKs contain a quorum", "no quorum fits in the nodes
// that have not NACKed"), evaluated with the reference predicate over every
// subset. contains[s] says whether s contains a quorum.
type refTracker struct {
	nodes    []paxi.ID
	contains []bool
	votes    map[paxi.ID]bool
}

func newRefTracker(nodes []paxi.ID, r ref) *refTracker {
	n := len(nodes)
	contains := make([]bool, 1<<n)
	subsets(n, func(s Set) {
		contains[s] = r(nodes, Members(nodes, s))
		for i := range n {
			if s.Has(i) && contains[s&^(Set(1)<<i)] {
				contains[s] = true
			}
		}
	})
	return &refTracker{nodes: nodes, contains: contains, votes: map[paxi.ID]bool{}}
}

func (r *refTracker) add(id paxi.ID, ack bool) bool {
	if _, ok := r.votes[id]; ok {
		return false
	}
	r.votes[id] = ack
	return true
}

func (r *refTracker) result() Result {
	var acks, open Set
	for i, id := range r.nodes {
		ack, voted := r.votes[id]
		if voted && ack {
			acks |= Set(1) << i
		}
		if !voted || ack {
			open |= Set(1) << i
		}
	}
	switch {
	case r.contains[acks]:
		return Won
	case !r.contains[open]:
		return Lost
	}
	return Pending
}

// TestTrackerMatchesReference feeds random vote sequences (testing/quick,
// fixed seed) to a Tracker and to the reference, for every system of every
// layout, and compares Add and Result after every vote.
func TestTrackerMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	for _, nodes := range layouts() {
		for _, e := range catalogue(t, nodes) {
			prop := func(votes []uint8) bool {
				tr := NewTracker(e.sys)
				ref := newRefTracker(nodes, e.ref)
				for _, v := range votes {
					id, ack := nodes[int(v>>1)%len(nodes)], v&1 == 1
					if got, want := tr.Add(id, ack), ref.add(id, ack); got != want {
						t.Logf("%s: Add(%v, %v) = %v, want %v", e.sys, id, ack, got, want)
						return false
					}
					if got, want := tr.Result(), ref.result(); got != want {
						t.Logf("%s: %s: Result() = %v, want %v", name(nodes), tr.String(), got, want)
						return false
					}
				}
				return true
			}
			if err := quick.Check(prop, &quick.Config{MaxCount: 40, Rand: rng}); err != nil {
				t.Errorf("%s %v: %v", name(nodes), e.sys, err)
			}
		}
	}
}

// TestTrackerDoesNotAllocate guards the hot path: votes and results are
// bit operations, never allocations.
func TestTrackerDoesNotAllocate(t *testing.T) {
	q1, _, err := FGrid(grid(3, 3), 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, sys := range []System{must(Majority(zoned(9))), q1} {
		tr := NewTracker(sys)
		nodes := sys.Nodes()
		allocs := testing.AllocsPerRun(100, func() {
			tr.Reset()
			for i, id := range nodes {
				tr.Add(id, i%3 != 0)
				tr.Add(id, true)
				_ = tr.Result()
			}
		})
		if allocs != 0 {
			t.Errorf("%v: %v allocations per round, want 0", sys, allocs)
		}
	}
}

// BenchmarkTracker measures one round: every node votes once (a third of
// them NACK) and Result is asked after each vote, as a protocol does in its
// reply handler. ns/vote is the cost of one Add plus one Result.
func BenchmarkTracker(b *testing.B) {
	fq1, fq2, err := FGrid(grid(5, 3), 1)
	if err != nil {
		b.Fatal(err)
	}
	for _, sys := range []System{
		must(Majority(zoned(5))),
		must(Majority(zoned(64))),
		must(Fast(zoned(9), FastQuorumSize(9))),
		fq1, fq2,
	} {
		b.Run(sys.String(), func(b *testing.B) {
			tr := NewTracker(sys)
			nodes := sys.Nodes()
			b.ReportAllocs()
			for b.Loop() {
				tr.Reset()
				for i, id := range nodes {
					tr.Add(id, i%3 != 0)
					_ = tr.Result()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(nodes)), "ns/vote")
		})
	}
}
