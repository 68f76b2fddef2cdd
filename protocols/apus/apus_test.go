package apus

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/internal/simcheck"
	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/sim"
	"github.com/ailidani/paxi-style/transport/rdma"
)

// cluster starts n APUS replicas with options o on a LAN with an RDMA
// fabric (placement: how writes land).
func cluster(t testing.TB, n int, o Options, seed uint64, placement rdma.Placement) *sim.Cluster {
	t.Helper()
	p := Protocol()
	p.New = func(env paxi.Env) (paxi.Replica, error) { return NewWithOptions(env, o) }
	net := sim.LAN(seed)
	ro := rdma.DefaultOptions(seed)
	ro.Placement = placement
	net.RDMA = &ro
	c, err := sim.New(simcheck.Config(n, 1), p, net)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func replica(c *sim.Cluster, id paxi.ID) *Replica { return c.Replica(id).(*Replica) }

// leaderOf returns a live replica other than not that leads and has
// committed an entry of its term (its NOOP), if any: the one with the
// highest term.
func leaderOf(c *sim.Cluster, not paxi.ID) (paxi.ID, bool) {
	var best paxi.ID
	for _, id := range c.IDs() {
		if r := replica(c, id); id != not && !c.Down(id) && r.IsLeader() && r.commit > r.termStart &&
			(best == 0 || r.Term() > replica(c, best).Term()) {
			best = id
		}
	}
	return best, best != 0
}

// awaitLeader runs until a leader other than not committed in its term,
// and returns it.
func awaitLeader(t testing.TB, c *sim.Cluster, not paxi.ID, limit time.Duration) paxi.ID {
	t.Helper()
	var l paxi.ID
	if !c.RunUntil(func() bool {
		var ok bool
		l, ok = leaderOf(c, not)
		return ok
	}, limit) {
		var states []string
		for _, id := range c.IDs() {
			states = append(states, replica(c, id).String())
		}
		t.Fatalf("no leader (other than %v) after %v: %s", not, limit, strings.Join(states, "; "))
	}
	return l
}

// streaming runs until leader l streams to every live follower.
func awaitStreaming(t testing.TB, c *sim.Cluster, l paxi.ID) {
	t.Helper()
	r := replica(c, l)
	if !c.RunUntil(func() bool {
		for i, f := range r.fs {
			if f != nil && !c.Down(r.peers[i]) && f.state != streaming {
				return false
			}
		}
		return true
	}, time.Second) {
		t.Fatalf("leader %v does not stream to every follower", l)
	}
}

func put(c *sim.Cluster, at paxi.ID, key string, v string, id uint64) uint64 {
	return c.Submit(at, paxi.Command{Op: paxi.Put, Key: key, Value: []byte(v), ClientID: "t", CommandID: id})
}

func get(t testing.TB, c *sim.Cluster, at paxi.ID, key string, id uint64) string {
	t.Helper()
	h := c.Submit(at, paxi.Command{Op: paxi.Get, Key: key, ClientID: "t", CommandID: id})
	reps, ok := c.Await(5*time.Second, h)
	if !ok || reps[0].Err != "" {
		t.Fatalf("get %s at %v: %v (answered %v)", key, at, reps[0], ok)
	}
	return string(reps[0].Result.Value)
}

// agree checks that the live replicas applied the same entries (up to the
// shortest) and that their stores hold the same value for key.
func agree(t testing.TB, c *sim.Cluster, key string) {
	t.Helper()
	rs := map[paxi.ID]paxi.Replica{}
	for _, id := range c.IDs() {
		rs[id] = c.Replica(id)
	}
	if err := Check(rs); err != nil {
		t.Fatal(err)
	}
	want := lastValue(c, c.IDs()[0], key)
	for _, id := range c.IDs() {
		if got := lastValue(c, id, key); got != want {
			t.Fatalf("stores differ on %s: %v has %q, %v has %q", key, c.IDs()[0], want, id, got)
		}
	}
}

func lastValue(c *sim.Cluster, id paxi.ID, key string) string {
	h := c.Store(id).History(key)
	if len(h) == 0 {
		return ""
	}
	return string(h[len(h)-1].Value)
}

// The normal case: requests at any node are ordered by the leader, applied
// everywhere in the same order and answered by the node that took them.
func TestReplicatesAndApplies(t *testing.T) {
	c := cluster(t, 3, Options{}, 1, rdma.InorderChunks)
	l := awaitLeader(t, c, 0, time.Second)
	awaitStreaming(t, c, l)
	var hs []uint64
	for i := range 30 {
		at := c.IDs()[i%3]
		hs = append(hs, put(c, at, "k", fmt.Sprint("v", i), uint64(i+1)))
		if _, ok := c.Await(time.Second, hs[i]); !ok {
			t.Fatalf("put %d at %v not answered", i, at)
		}
	}
	if v := get(t, c, c.IDs()[1], "k", 100); v != "v29" {
		t.Fatalf("get k = %q, want v29", v)
	}
	c.RunFor(50 * time.Millisecond) // the lazy commit word reaches everyone
	agree(t, c, "k")
	for _, id := range c.IDs() {
		if r := replica(c, id); r.Applied() < 31 || r.Stats().Failed != 0 {
			t.Fatalf("%v: applied %d, %d failed completions; want >= 31 and 0", id, r.Applied(), r.Stats().Failed)
		}
	}
	if f := c.Fabric().Stats().Failed; f != 0 {
		t.Fatalf("%d failed work requests in a fault-free run", f)
	}
}

// A command that does not fit in a slot is refused, not truncated.
func TestOversizedCommandRefused(t *testing.T) {
	c := cluster(t, 3, Options{}, 1, rdma.InorderChunks)
	awaitLeader(t, c, 0, time.Second)
	h := put(c, c.IDs()[0], "big", strings.Repeat("x", 600), 1)
	reps, ok := c.Await(time.Second, h)
	if !ok || !strings.Contains(reps[0].Err, "does not fit") {
		t.Fatalf("oversized put: %v, %v; want an error", reps[0], ok)
	}
}

// PROTOCOLS.md §12: the leader dies after some followers acknowledged an
// entry. With fewer than a majority of acks the entry may be lost or kept;
// the request is re-sent by the node that took it and executed exactly
// once. With a majority of acks (committed at the leader, the commit word
// not yet sent: APUS sends it lazily) the new leader must keep it.
func TestLeaderDiesAfterSomeAcks(t *testing.T) {
	for _, acks := range []int{1, 2} {
		t.Run(fmt.Sprintf("acks=%d", acks), func(t *testing.T) {
			c := cluster(t, 5, Options{}, 7, rdma.InorderChunks)
			l := awaitLeader(t, c, 0, time.Second)
			awaitStreaming(t, c, l)
			r := replica(c, l)
			var taker paxi.ID
			for _, id := range c.IDs() {
				if id != l {
					taker = id
					break
				}
			}
			h := put(c, taker, "x", "once", 1)
			idx := int64(-1)
			ok := c.RunUntil(func() bool {
				if idx < 0 {
					for j := r.applied; j < r.end; j++ {
						if e := r.entryAt(j); len(e.Cmds) == 1 && e.Cmds[0].Key == "x" {
							idx = j
						}
					}
					return false
				}
				n := 0
				for _, f := range r.fs {
					if f != nil && f.match > idx {
						n++
					}
				}
				return n >= acks
			}, time.Second)
			if !ok {
				t.Fatalf("the entry did not get %d acks", acks)
			}
			committed := r.commit > idx
			if committed != (acks >= 2) {
				t.Fatalf("with %d acks of 4 followers, committed = %v", acks, committed)
			}
			c.Crash(l) // crash-stop: unreachable, memory kept
			l2 := awaitLeader(t, c, l, 2*time.Second)
			reps, ok := c.Await(3*time.Second, h)
			if !ok || reps[0].Err != "" {
				t.Fatalf("the put taken by %v was not answered after %v took over: %v", taker, l2, reps[0])
			}
			c.RunFor(100 * time.Millisecond)
			for _, id := range c.IDs() {
				if id == l {
					continue
				}
				if n := len(c.Store(id).History("x")); n != 1 {
					t.Fatalf("%v executed the put %d times, want once", id, n)
				}
			}
			if err := c.Restart(l); err != nil {
				t.Fatal(err)
			}
			// What the old leader posted just before the crash fails only
			// after the RC timeout; until then its control plane flushes.
			c.RunFor(rdma.CX5EDR1Switch().RCTimeout() + 100*time.Millisecond)
			if replica(c, l).IsLeader() || replica(c, l).Term() != replica(c, l2).Term() {
				t.Fatalf("old leader after restart: %v; new: %v", replica(c, l), replica(c, l2))
			}
			get(t, c, l, "x", 2)
			c.RunFor(100 * time.Millisecond)
			agree(t, c, "x")
		})
	}
}

// PROTOCOLS.md §12 (Mu's and DARE's case): the leader's process pauses
// while its NIC keeps serving. The followers see its heartbeat freeze and
// elect a new leader, which keeps writing into the paused node's memory
// (its heartbeat, here) without errors. When the old leader resumes it
// finds the newer term in its own memory and steps down; the fence checks
// of every follower (a write from a deposed leader after revocation
// panics) hold throughout.
func TestPausedLeaderNICAlive(t *testing.T) {
	o := ArtifactOptions()
	c := cluster(t, 3, o, 3, rdma.InorderChunks)
	l := awaitLeader(t, c, 0, time.Second)
	awaitStreaming(t, c, l)
	var taker paxi.ID
	for _, id := range c.IDs() {
		if id != l {
			taker = id
		}
	}
	for i := range 10 {
		if _, ok := c.Await(time.Second, put(c, taker, "p", fmt.Sprint(i), uint64(i+1))); !ok {
			t.Fatal("put before the pause not answered")
		}
	}
	old := replica(c, l)
	// Leave entries in flight: submit at the leader and pause it at once.
	put(c, l, "p", "in-flight", 100)
	c.RunFor(300 * time.Nanosecond)
	c.SetDown(l, true)
	paused := c.Now()
	l2 := awaitLeader(t, c, l, time.Second)
	failover := c.Now() - paused
	if failover < o.ElectionTimeout || failover > 2*o.ElectionTimeout+5*time.Millisecond {
		t.Errorf("fail-over took %v, want within [%v, %v]", failover, o.ElectionTimeout, 2*o.ElectionTimeout+5*time.Millisecond)
	}
	t.Logf("paused leader %v at %v; %v committed in term %d after %v", l, paused, l2, replica(c, l2).Term(), failover)
	c.RunFor(20 * time.Millisecond)
	if f := replica(c, l2).Stats().Failed; f != 0 {
		t.Fatalf("the new leader had %d failed completions: the paused node's NIC should serve", f)
	}
	if old.Term() >= replica(c, l2).Term() || !old.IsLeader() {
		t.Fatalf("paused leader changed state while paused: %v", old)
	}
	if _, ok := c.Await(time.Second, put(c, taker, "p", "after", 200)); !ok {
		t.Fatal("put under the new leader not answered")
	}
	c.SetDown(l, false)
	c.RunFor(10 * time.Millisecond)
	if old.IsLeader() || old.Term() != replica(c, l2).Term() || old.Leader() != l2 {
		t.Fatalf("resumed old leader: %v, want a follower of %v", old, l2)
	}
	if v := get(t, c, l, "p", 300); v != "after" {
		t.Fatalf("get p at the old leader = %q, want after", v)
	}
	c.RunFor(50 * time.Millisecond)
	agree(t, c, "p")
}

// PROTOCOLS.md §12: elections under partitions. The leader and one
// follower are cut from the other three (RDMA too): the majority side
// elects a leader and commits; the minority leader commits nothing, and
// its writes into the majority's logs fail (their log planes are reset).
// After the heal it steps down, and the request it took is executed once.
func TestElectionUnderPartition(t *testing.T) {
	c := cluster(t, 5, Options{}, 11, rdma.InorderChunks)
	l := awaitLeader(t, c, 0, time.Second)
	awaitStreaming(t, c, l)
	ids := c.IDs()
	minority := []paxi.ID{l}
	for _, id := range ids {
		if id != l && len(minority) < 2 {
			minority = append(minority, id)
		}
	}
	var majority []paxi.ID
	for _, id := range ids {
		if !slices.Contains(minority, id) {
			majority = append(majority, id)
		}
	}
	cut := 2 * time.Second
	for _, a := range minority {
		for _, b := range majority {
			c.Drop(a, b, cut)
			c.Drop(b, a, cut)
		}
	}
	start := c.Now()
	hMinority := put(c, l, "q", "minority", 1)
	l2 := awaitLeader(t, c, l, time.Second)
	if !slices.Contains(majority, l2) {
		t.Fatalf("leader %v elected on the minority side", l2)
	}
	if _, ok := c.Await(time.Second, put(c, majority[0], "q", "majority", 2)); !ok {
		t.Fatal("majority side did not commit")
	}
	if _, ok := c.Reply(hMinority); ok {
		t.Fatal("the minority leader answered a put while cut off")
	}
	if r := replica(c, l); r.commit > r.termStart+1 && r.Term() < replica(c, l2).Term() {
		t.Fatalf("minority leader committed: %v commit=%d", r, r.commit)
	}
	c.RunUntil(func() bool { return c.Now() > start+cut+time.Millisecond }, 3*time.Second)
	if replica(c, l).Stats().Failed == 0 {
		t.Fatal("the minority leader's writes never failed")
	}
	reps, ok := c.Await(2*time.Second, hMinority)
	if !ok || reps[0].Err != "" {
		t.Fatalf("put taken by the old leader not answered after the heal: %v", reps[0])
	}
	c.RunFor(200 * time.Millisecond)
	if replica(c, l).IsLeader() && replica(c, l).Term() < replica(c, l2).Term() {
		t.Fatalf("old leader still leads an old term: %v", replica(c, l))
	}
	for _, id := range ids {
		if n := len(c.Store(id).History("q")); n != 2 {
			t.Fatalf("%v holds %d versions of q, want 2 (each put once)", id, n)
		}
	}
	agree(t, c, "q")
}

// PROTOCOLS.md §12 and §10.6 item 3: in random-chunk placement a reader
// that trusts a slot as soon as its header names the expected index (as
// if writes landed whole) reads torn entries; the checksum exposes every
// one, and APUS, which reads only below the end word, never meets one (a
// torn entry below the end panics the follower).
func TestTornSlotDetected(t *testing.T) {
	for _, pl := range []rdma.Placement{rdma.RandomChunks, rdma.InorderChunks} {
		t.Run(pl.String(), func(t *testing.T) {
			c := cluster(t, 3, Options{}, 5, pl)
			l := awaitLeader(t, c, 0, time.Second)
			awaitStreaming(t, c, l)
			torn, whole := 0, 0
			buf := make([]byte, 512)
			peek := func() {
				for _, id := range c.IDs() {
					r := replica(c, id)
					if id == l {
						continue
					}
					r.log.Read(r.slotOff(r.end), buf)
					if int64(binaryIndex(buf)) != r.end {
						continue // the header chunk has not landed
					}
					if _, _, _, err := checkEntry(buf); errors.Is(err, errTorn) {
						torn++
					} else {
						whole++
					}
				}
			}
			for i := range 40 {
				h := put(c, c.IDs()[i%3], "t", strings.Repeat(string(rune('a'+i%26)), 400), uint64(i+1))
				if !c.RunUntil(func() bool {
					peek()
					_, ok := c.Reply(h)
					return ok
				}, time.Second) {
					t.Fatalf("put %d not answered", i)
				}
			}
			t.Logf("%v: a header-trusting reader saw %d torn and %d whole entries past the end", pl, torn, whole)
			if torn == 0 {
				t.Fatalf("%v: no torn entry seen past the end pointer", pl)
			}
			c.RunFor(50 * time.Millisecond)
			agree(t, c, "t")
		})
	}
}

// binaryIndex is the index field of a slot's header, as a reader that
// trusts it would read it.
func binaryIndex(slot []byte) uint64 {
	var v uint64
	for i := 7; i >= 0; i-- {
		v = v<<8 | uint64(slot[i])
	}
	return v
}

// The same seed gives the same run.
func TestDeterministic(t *testing.T) {
	run := func() string {
		o, err := simcheck.Run(simcheck.Config(3, 1), Protocol(), sim.RandomOptions(42), 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%d %d %v", len(o.Result.History), o.Result.Stats.Events, o.Result.Virtual)
	}
	if a, b := run(), run(); a != b {
		t.Fatalf("seed 42 twice: %s then %s", a, b)
	}
}

// Without RDMA the factory fails fast, naming the node.
func TestNeedsRDMA(t *testing.T) {
	p := Protocol()
	p.RDMA = false
	_, err := sim.New(simcheck.Config(3, 1), p, sim.LAN(1))
	if !errors.Is(err, rdma.ErrNoRDMA) {
		t.Fatalf("without RDMA: %v, want rdma.ErrNoRDMA", err)
	}
}
