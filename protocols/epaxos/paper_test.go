package epaxos_test

import (
	"fmt"
	"hash/fnv"
	"slices"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols/epaxos"
	"github.com/ailidani/paxi-style/sim"
)

// These tests follow the paper (Moraru, Andersen, Kaminsky, "There Is More
// Consensus in Egalitarian Parliaments", SOSP 2013) and the corrections and
// scenarios of PROTOCOLS.md §3.7 and §12, in the init / step / check shape:
// build a simulated cluster, steer message delivery with Filter, SetDown and
// Crash, and check the claim. Virtual time is short between steps, so that
// the replicas' own recovery timers (hundreds of milliseconds) only fire
// where a test waits for them.

func config(n int) *paxi.Config {
	cfg := paxi.DefaultConfig()
	cfg.SetLocal(n, 1, 1735, 8081)
	return cfg
}

func newCluster(t *testing.T, n int, seed uint64) *sim.Cluster {
	t.Helper()
	c, err := sim.New(config(n), epaxos.Protocol(), sim.LAN(seed))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var (
	n1 = paxi.MustID("1.1")
	n2 = paxi.MustID("1.2")
	n3 = paxi.MustID("1.3")
	n4 = paxi.MustID("1.4")
	n5 = paxi.MustID("1.5")
)

func put(key, value string) paxi.Command {
	return paxi.Command{Op: paxi.Put, Key: key, Value: []byte(value)}
}

func replica(c *sim.Cluster, id paxi.ID) *epaxos.EPaxos { return c.Replica(id).(*epaxos.EPaxos) }

func replicas(c *sim.Cluster) map[paxi.ID]*epaxos.EPaxos {
	out := map[paxi.ID]*epaxos.EPaxos{}
	for _, id := range c.IDs() {
		if r, ok := c.Replica(id).(*epaxos.EPaxos); ok && r != nil {
			out[id] = r
		}
	}
	return out
}

func info(c *sim.Cluster, at paxi.ID, id epaxos.InstanceID) epaxos.InstanceInfo {
	i, _ := replica(c, at).Instance(id)
	return i
}

func committed(c *sim.Cluster, at paxi.ID, id epaxos.InstanceID) bool {
	return info(c, at, id).Status == epaxos.Committed
}

// await runs until every handle has a reply.
func await(t *testing.T, c *sim.Cluster, limit time.Duration, hs ...uint64) []paxi.Reply {
	t.Helper()
	out, ok := c.Await(limit, hs...)
	if !ok {
		t.Fatalf("not every request answered within %v", limit)
	}
	return out
}

// history lists the values written to key at a node, in order.
func history(c *sim.Cluster, id paxi.ID, key string) []string {
	var out []string
	for _, v := range c.Store(id).History(key) {
		out = append(out, string(v.Value))
	}
	return out
}

// drop returns a Filter that loses the messages for which any rule holds.
func drop(rules ...func(from, to paxi.ID, m paxi.Message) bool) func(from, to paxi.ID, m paxi.Message) bool {
	return func(from, to paxi.ID, m paxi.Message) bool {
		for _, r := range rules {
			if r(from, to, m) {
				return false
			}
		}
		return true
	}
}

// msgs is a rule matching messages of type M from `from` (0: anyone) to
// any of `to` (none: anyone).
func msgs[M paxi.Message](from paxi.ID, to ...paxi.ID) func(paxi.ID, paxi.ID, paxi.Message) bool {
	return func(f, t paxi.ID, m paxi.Message) bool {
		_, ok := m.(M)
		return ok && (from == 0 || f == from) && (len(to) == 0 || slices.Contains(to, t))
	}
}

func checkAgreement(t *testing.T, c *sim.Cluster) {
	t.Helper()
	if err := epaxos.CheckAgreement(replicas(c)); err != nil {
		t.Fatal(err)
	}
}

func depends(i epaxos.InstanceInfo, row int, num int64) bool { return i.Deps[row] >= num }

// §4.2 (Phase 1, fast path): a command that conflicts with nothing commits
// after one round trip to a fast quorum, without an Accept phase, and its
// leader executes and answers it at once.
func TestFastPathNoConflictOneRoundTrip(t *testing.T) {
	c := newCluster(t, 5, 1)
	var sent []string
	c.Trace = func(_ time.Duration, _, _ paxi.ID, m paxi.Message) {
		switch m.(type) {
		case epaxos.PreAccept, epaxos.PreAcceptOK, epaxos.Accept, epaxos.AcceptOK, epaxos.Prepare:
			sent = append(sent, fmt.Sprintf("%T", m))
		}
	}
	start := c.Now()
	h := c.Submit(n1, put("x", "1"))
	await(t, c, time.Second, h)
	// One round trip on the LAN is at most 2 * 500µs.
	if took := c.Now() - start; took > time.Millisecond {
		t.Errorf("answered after %v, more than one round trip", took)
	}
	for _, s := range sent {
		if s != "epaxos.PreAccept" && s != "epaxos.PreAcceptOK" {
			t.Fatalf("fast path sent %s (messages: %v)", s, sent)
		}
	}
	if st := replica(c, n1).Stats(); st.FastPath != 1 || st.SlowPath != 0 {
		t.Fatalf("stats %+v, want one fast path", st)
	}
	c.RunFor(100 * time.Millisecond)
	for _, id := range c.IDs() {
		if !committed(c, id, epaxos.InstanceID{Replica: n1, Instance: 0}) || !slices.Equal(history(c, id, "x"), []string{"1"}) {
			t.Errorf("%v did not commit and execute the command", id)
		}
	}
	checkAgreement(t, c)
}

// §4.2 (Phase 1 then Paxos-Accept): when the PreAcceptOKs differ from the
// leader's attributes (an acceptor knows a conflicting command the leader
// does not), the leader takes the slow path with the union of the replies.
func TestSlowPathWhenRepliesDiffer(t *testing.T) {
	c := newCluster(t, 3, 2)
	// 1.2's command on k never reaches 1.1 directly.
	c.Filter = drop(msgs[epaxos.PreAccept](n2, n1), msgs[epaxos.Commit](n2, n1), msgs[epaxos.Accept](n2, n1), msgs[epaxos.CatchUp](n1))
	await(t, c, time.Second, c.Submit(n2, put("k", "a")))
	delta := epaxos.InstanceID{Replica: n2, Instance: 0}
	if _, known := replica(c, n1).Instance(delta); known {
		t.Fatal("test setup: 1.1 learned 1.2's instance")
	}
	h := c.Submit(n1, put("k", "b"))
	await(t, c, time.Second, h)
	st := replica(c, n1).Stats()
	if st.SlowPath != 1 || st.FastPath != 0 {
		t.Fatalf("leader 1.1 stats %+v, want one slow path", st)
	}
	g := info(c, n1, epaxos.InstanceID{Replica: n1, Instance: 0})
	if !depends(g, 1, 0) {
		t.Fatalf("1.1:0 committed with deps %v, want a dependency on 1.2:0 learned from the replies", g.Deps)
	}
	if got := history(c, n1, "k"); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("history of k at 1.1 = %v, want [a b]", got)
	}
	c.Filter = nil
	c.RunFor(time.Second)
	checkAgreement(t, c)
}

// §4.3 and PROTOCOLS.md §3.7 F5: two replicas propose conflicting commands
// at the same moment; each acceptor sees the other leader's command first,
// so the two commit depending on each other, with equal seq. The cycle is
// one strongly connected component, ordered by (seq, replica, instance):
// every replica executes the two in the same order.
func TestConflictingCommandsDependOnEachOther(t *testing.T) {
	c := newCluster(t, 3, 3)
	// 1.3 sees neither PreAccept, so each leader hears only the other.
	c.Filter = drop(msgs[epaxos.PreAccept](0, n3))
	h1 := c.Submit(n1, put("k", "from1"))
	h2 := c.Submit(n2, put("k", "from2"))
	await(t, c, time.Second, h1, h2)
	c.Filter = nil
	c.RunFor(200 * time.Millisecond)
	g := info(c, n3, epaxos.InstanceID{Replica: n1, Instance: 0})
	d := info(c, n3, epaxos.InstanceID{Replica: n2, Instance: 0})
	if g.Status != epaxos.Committed || d.Status != epaxos.Committed {
		t.Fatalf("not both committed at 1.3: %v %v", g.Status, d.Status)
	}
	if !depends(g, 1, 0) || !depends(d, 0, 0) {
		t.Fatalf("deps 1.1:0=%v 1.2:0=%v, want each to depend on the other", g.Deps, d.Deps)
	}
	if g.Seq != d.Seq {
		t.Logf("seqs differ (%d, %d); the tie-break is not exercised", g.Seq, d.Seq)
	}
	want := []string{"from1", "from2"} // equal seq: replica 1.1 first
	if g.Seq > d.Seq {
		want = []string{"from2", "from1"}
	}
	for _, id := range c.IDs() {
		if got := history(c, id, "k"); !slices.Equal(got, want) {
			t.Errorf("history of k at %v = %v, want %v", id, got, want)
		}
	}
	checkAgreement(t, c)
}

// PROTOCOLS.md §12: the command leader commits on the fast path and
// crashes before any Commit leaves. Recovery by the others must commit the
// same (command, seq, deps), although a conflicting command arrived since,
// which a fresh phase 1 would add to the dependencies.
func TestRecoveryAfterFastCommitBeforeCommitBroadcast(t *testing.T) {
	c := newCluster(t, 5, 4)
	gamma := epaxos.InstanceID{Replica: n1, Instance: 0}
	// The fast quorum is 1.1-1.4; 1.5 never hears of γ from 1.1, and
	// nobody hears that it committed.
	c.Filter = drop(msgs[epaxos.PreAccept](n1, n5), msgs[epaxos.Commit](n1), msgs[epaxos.Heartbeat](n1))
	c.Submit(n1, put("k", "a"))
	if !c.RunUntil(func() bool { return committed(c, n1, gamma) }, 100*time.Millisecond) {
		t.Fatal("1.1 did not commit on the fast path")
	}
	old := replica(c, n1)
	want, _ := old.Instance(gamma)
	if st := old.Stats(); st.FastPath != 1 {
		t.Fatalf("1.1 stats %+v, want a fast-path commit", st)
	}
	for _, id := range []paxi.ID{n2, n3, n4, n5} {
		if committed(c, id, gamma) {
			t.Fatalf("test setup: %v learned the commit", id)
		}
	}
	c.Crash(n1)
	c.Filter = nil
	// A conflicting command at 1.5 depends on γ; executing it needs γ
	// committed, so the replicas recover γ.
	h := c.Submit(n5, put("k", "b"))
	await(t, c, 3*time.Second, h)
	c.RunFor(50 * time.Millisecond) // the recoverer's Commit reaches everyone
	for _, id := range []paxi.ID{n2, n3, n4, n5} {
		got := info(c, id, gamma)
		if got.Status != epaxos.Committed || !slices.Equal(got.Deps, want.Deps) || got.Seq != want.Seq || len(got.Cmds) != 1 || string(got.Cmds[0].Value) != "a" {
			t.Fatalf("%v recovered γ as %v seq=%d deps=%v %v; the fast path committed seq=%d deps=%v %v",
				id, got.Status, got.Seq, got.Deps, got.Cmds, want.Seq, want.Deps, want.Cmds)
		}
	}
	if got := history(c, n5, "k"); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("history of k at 1.5 = %v, want [a b]", got)
	}
	if err := c.Restart(n1); err != nil {
		t.Fatal(err)
	}
	c.RunFor(time.Second)
	checkAgreement(t, c)
	if got := history(c, n1, "k"); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("history of k at restarted 1.1 = %v, want [a b]", got)
	}
}

// PROTOCOLS.md §12 and §3.7 F1 (Sutra, "On the correctness of Egalitarian
// Paxos", 2019): two recoverers accept different attributes for the same
// instance at different ballots; the second's are committed. A third
// recovery whose quorum holds both accepted values must pick the one
// accepted at the higher ballot. With one ballot per instance both reports
// carry the promised ballot, and the recoverer's own report (the older
// value) wins.
func TestTwoRecoverersHighestAcceptedBallotWins(t *testing.T) {
	c := newCluster(t, 3, 5)
	gamma := epaxos.InstanceID{Replica: n1, Instance: 0}
	delta := epaxos.InstanceID{Replica: n3, Instance: 0}

	// γ at 1.1 reaches 1.2 only, and 1.1 hears nothing back: γ is
	// pre-accepted with its original attributes at 1.1 and 1.2.
	c.Filter = drop(msgs[epaxos.PreAccept](n1, n3), msgs[epaxos.PreAcceptOK](0, n1))
	c.Submit(n1, put("k", "g"))
	c.RunFor(5 * time.Millisecond)
	c.SetDown(n1, true)
	// δ at 1.3 on the same key commits with 1.2 (slow path: 1.2 adds γ).
	c.Filter = nil
	c.Submit(n3, put("k", "d"))
	if !c.RunUntil(func() bool { return committed(c, n3, delta) && committed(c, n2, delta) }, 100*time.Millisecond) {
		t.Fatal("δ not committed")
	}

	// Recoverer 1: 1.2 finds an original pre-accept without the leader in
	// its quorum, so γ may have committed on the fast path: it accepts the
	// original attributes A1, but its Accept reaches nobody else.
	c.Filter = drop(msgs[epaxos.Accept](n2))
	replica(c, n2).StartRecovery(gamma)
	c.RunFor(5 * time.Millisecond)
	a1 := info(c, n2, gamma)
	if a1.Status != epaxos.Accepted {
		t.Fatalf("test setup: 1.2 has γ %v, want accepted", a1.Status)
	}
	c.SetDown(n2, true)

	// Recoverer 2: 1.3, with the leader 1.1 in its quorum, restarts phase
	// 1; it knows δ, so it commits attributes A2 != A1, accepted by 1.1.
	// Nobody hears of the commit.
	c.SetDown(n1, false)
	c.Filter = drop(msgs[epaxos.Commit](n3), msgs[epaxos.PrepareOK](n3), msgs[epaxos.Heartbeat](n3))
	replica(c, n3).StartRecovery(gamma)
	if !c.RunUntil(func() bool { return committed(c, n3, gamma) }, 50*time.Millisecond) {
		t.Fatal("1.3 did not commit γ")
	}
	a2 := info(c, n3, gamma)
	if slices.Equal(a1.Deps, a2.Deps) && a1.Seq == a2.Seq {
		t.Fatalf("test setup: both recoverers chose seq=%d deps=%v", a2.Seq, a2.Deps)
	}
	if got := info(c, n1, gamma); got.Status != epaxos.Accepted || !slices.Equal(got.Deps, a2.Deps) {
		t.Fatalf("test setup: 1.1 has γ %v deps=%v, want accepted %v", got.Status, got.Deps, a2.Deps)
	}
	c.SetDown(n3, true)

	// Recoverer 3: 1.2 again, quorum {1.2, 1.1}: A1 accepted at its
	// ballot, A2 accepted at 1.3's higher one.
	c.SetDown(n2, false)
	for range 5 {
		if committed(c, n2, gamma) {
			break
		}
		replica(c, n2).StartRecovery(gamma) // the first try may meet 1.3's promise
		c.RunFor(5 * time.Millisecond)
	}
	got := info(c, n2, gamma)
	if got.Status != epaxos.Committed {
		t.Fatalf("1.2 did not commit γ: %v", got.Status)
	}
	if !slices.Equal(got.Deps, a2.Deps) || got.Seq != a2.Seq {
		t.Fatalf("1.2 committed γ seq=%d deps=%v, but 1.3 committed seq=%d deps=%v", got.Seq, got.Deps, a2.Seq, a2.Deps)
	}
	c.SetDown(n3, false)
	c.Filter = nil
	c.RunFor(time.Second)
	checkAgreement(t, c)
}

// Two replicas start recovering the same instance at the same moment: one
// ballot wins, the other recoverer backs off, and every replica commits the
// same value.
func TestConcurrentRecoverers(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		c := newCluster(t, 5, seed)
		gamma := epaxos.InstanceID{Replica: n1, Instance: 0}
		c.Filter = drop(msgs[epaxos.PreAccept](n1, n4, n5), msgs[epaxos.PreAcceptOK](0, n1))
		c.Submit(n1, put("k", "g"))
		c.RunFor(5 * time.Millisecond)
		c.SetDown(n1, true)
		c.Filter = nil
		c.Submit(n4, put("k", "x"))
		c.RunFor(2 * time.Millisecond)
		replica(c, n2).StartRecovery(gamma)
		replica(c, n5).StartRecovery(gamma)
		if !c.RunUntil(func() bool {
			for _, id := range []paxi.ID{n2, n3, n4, n5} {
				if !committed(c, id, gamma) {
					return false
				}
			}
			return true
		}, 3*time.Second) {
			t.Fatalf("seed %d: γ not committed everywhere within 3s", seed)
		}
		c.SetDown(n1, false)
		c.RunFor(time.Second)
		checkAgreement(t, c)
	}
}

// PROTOCOLS.md §12, efficient/epaxos issue #29: asymmetric PreAccept loss.
// δ commits at 1.5 with 1.3 and 1.4 before γ exists. γ's PreAccept then
// reaches 1.2 (which does not know δ: its pre-accept keeps the leader's
// attributes) and 1.3 (which adds δ); the leader fails. Recovery by
// {1.2, 1.3, 1.4} sees one original pre-accept, fewer than a fast path
// would have left, so it must not commit the original attributes, which
// lack δ: it restarts phase 1 and γ depends on δ.
func TestAsymmetricPreAcceptLoss(t *testing.T) {
	c := newCluster(t, 5, 6)
	gamma := epaxos.InstanceID{Replica: n1, Instance: 0}
	delta := epaxos.InstanceID{Replica: n5, Instance: 0}
	isolate := func(a paxi.ID, bs ...paxi.ID) func(paxi.ID, paxi.ID, paxi.Message) bool {
		return func(from, to paxi.ID, _ paxi.Message) bool {
			return (from == a && slices.Contains(bs, to)) || (to == a && slices.Contains(bs, from))
		}
	}
	c.Filter = drop(isolate(n5, n1, n2))
	c.Submit(n5, put("k", "d"))
	if !c.RunUntil(func() bool { return committed(c, n5, delta) && committed(c, n3, delta) }, 100*time.Millisecond) {
		t.Fatal("δ not committed")
	}
	if st := replica(c, n5).Stats(); st.SlowPath != 1 {
		t.Fatalf("test setup: δ stats %+v, want the slow path", st)
	}
	c.Filter = drop(isolate(n5, n1, n2), msgs[epaxos.PreAccept](n1, n4, n5), func(_, to paxi.ID, _ paxi.Message) bool { return to == n1 })
	c.Submit(n1, put("k", "g"))
	c.RunFor(5 * time.Millisecond)
	c.SetDown(n1, true)
	c.SetDown(n5, true)
	if i := info(c, n2, gamma); i.Status != epaxos.PreAccepted || depends(i, 4, 0) {
		t.Fatalf("test setup: 1.2 has γ %v deps=%v, want pre-accepted without δ", i.Status, i.Deps)
	}
	if i := info(c, n3, gamma); i.Status != epaxos.PreAccepted || !depends(i, 4, 0) {
		t.Fatalf("test setup: 1.3 has γ %v deps=%v, want pre-accepted with δ", i.Status, i.Deps)
	}
	c.Filter = nil
	replica(c, n2).StartRecovery(gamma)
	if !c.RunUntil(func() bool { return committed(c, n2, gamma) }, 50*time.Millisecond) {
		t.Fatal("γ not recovered")
	}
	if g := info(c, n2, gamma); !depends(g, 4, 0) {
		t.Fatalf("γ recovered with deps %v, without δ (1.5:0), which committed without γ: the two may execute in either order", g.Deps)
	}
	c.SetDown(n1, false)
	c.SetDown(n5, false)
	c.RunFor(time.Second)
	checkAgreement(t, c)
	for _, id := range c.IDs() {
		if got := history(c, id, "k"); !slices.Equal(got, []string{"d", "g"}) {
			t.Errorf("history of k at %v = %v, want [d g]", id, got)
		}
	}
}

// PROTOCOLS.md §3.7 F6 and §12: the executor never waits. 1.1's instance 0
// reaches nobody; its instance 1 commits everywhere, and since an instance
// depends on its row's earlier ones, executing it needs instance 0. With
// 1.1 down, the others recover instance 0: nobody has its command, so it
// becomes a no-op, and instance 1 executes. When 1.1 is back, it learns the
// no-op and proposes its client's command again, in a new instance.
func TestExecutorMissingDependencyRecoversNoop(t *testing.T) {
	c := newCluster(t, 3, 7)
	i0 := epaxos.InstanceID{Replica: n1, Instance: 0}
	i1 := epaxos.InstanceID{Replica: n1, Instance: 1}
	c.Filter = drop(func(from, _ paxi.ID, m paxi.Message) bool {
		p, ok := m.(epaxos.PreAccept)
		return ok && from == n1 && p.Instance == 0
	})
	ha := c.Submit(n1, put("a", "1"))
	hb := c.Submit(n1, put("b", "2"))
	if !c.RunUntil(func() bool { return committed(c, n2, i1) && committed(c, n3, i1) }, 50*time.Millisecond) {
		t.Fatal("instance 1 not committed")
	}
	c.SetDown(n1, true)
	c.Filter = nil
	for _, id := range []paxi.ID{n2, n3} {
		if _, found := c.Store(id).Get("b"); found {
			t.Fatalf("%v executed 1.1:1 before 1.1:0 was committed", id)
		}
	}
	// The executor asks for recovery of exactly the missing instance,
	// which starts within ElectionTimeout (half of it plus jitter); an
	// instance nobody needs would wait twice as long.
	limit := time.Duration(c.Config().ElectionTimeout) + 2*time.Duration(c.Config().Heartbeat)
	if !c.RunUntil(func() bool {
		_, f2 := c.Store(n2).Get("b")
		_, f3 := c.Store(n3).Get("b")
		return f2 && f3
	}, limit) {
		t.Fatalf("1.1:1 not executed within %v: the executor did not get its missing dependency recovered", limit)
	}
	for _, id := range []paxi.ID{n2, n3} {
		got := info(c, id, i0)
		if got.Status != epaxos.Committed || len(got.Cmds) != 1 || got.Cmds[0].Op != paxi.Noop {
			t.Fatalf("%v has 1.1:0 %v %v, want a committed no-op", id, got.Status, got.Cmds)
		}
		if _, found := c.Store(id).Get("a"); found {
			t.Fatalf("%v executed the lost command", id)
		}
	}
	c.SetDown(n1, false)
	await(t, c, 3*time.Second, ha, hb)
	c.RunFor(time.Second)
	for _, id := range c.IDs() {
		if v, _ := c.Store(id).Get("a"); string(v) != "1" {
			t.Errorf("%v: a = %q after 1.1 re-proposed it, want 1", id, v)
		}
	}
	checkAgreement(t, c)
}

// Commands that arrive while Pipeline own instances are in flight are
// batched into the next instance.
func TestBatching(t *testing.T) {
	c := newCluster(t, 3, 8)
	var hs []uint64
	for i := range 100 {
		hs = append(hs, c.Submit(n1, put(fmt.Sprint("k", i%10), fmt.Sprint(i))))
	}
	await(t, c, time.Second, hs...)
	own := replica(c, n1).Instances()[0]
	if own >= 100 || own < int64(c.Config().Pipeline) {
		t.Fatalf("100 commands took %d instances, want fewer (batches) but at least the pipeline (%d)", own, c.Config().Pipeline)
	}
	c.RunFor(500 * time.Millisecond)
	checkAgreement(t, c)
	for _, id := range c.IDs() {
		if got := c.Store(id).Applied(); got != 100 {
			t.Errorf("%v applied %d commands, want 100", id, got)
		}
	}
}

// A replica that crashes loses its volatile state only: after a restart it
// knows its instances, never reuses an instance number, and serves again.
func TestCrashRestartKeepsInstances(t *testing.T) {
	c := newCluster(t, 3, 9)
	await(t, c, time.Second, c.Submit(n1, put("k", "1")), c.Submit(n1, put("k", "2")))
	before := replica(c, n1).Instances()[0]
	c.Crash(n1)
	c.RunFor(100 * time.Millisecond)
	if err := c.Restart(n1); err != nil {
		t.Fatal(err)
	}
	await(t, c, time.Second, c.Submit(n1, put("k", "3")))
	after := replica(c, n1).Instances()[0]
	if after != before+1 {
		t.Fatalf("own row had %d instances before the crash and %d after one more command", before, after)
	}
	c.RunFor(500 * time.Millisecond)
	for _, id := range c.IDs() {
		if got := history(c, id, "k"); !slices.Equal(got, []string{"1", "2", "3"}) {
			t.Errorf("history of k at %v = %v", id, got)
		}
	}
	checkAgreement(t, c)
}

// Malformed messages are logged and ignored: instance numbers far out of
// range, unknown replicas, dependency vectors of the wrong length, unknown
// operations. None panics or makes the replica allocate.
func TestGarbageIgnored(t *testing.T) {
	c := newCluster(t, 3, 10)
	r := replica(c, n2)
	good := []int64{-1, -1, -1}
	cmds := []paxi.Command{put("k", "v")}
	bad := []paxi.Message{
		epaxos.PreAccept{Ballot: paxi.NewBallot(0, n1), Replica: n1, Instance: 1 << 40, Cmds: cmds, Deps: good},
		epaxos.PreAccept{Ballot: paxi.NewBallot(0, n1), Replica: n1, Instance: -5, Cmds: cmds, Deps: good},
		epaxos.PreAccept{Ballot: paxi.NewBallot(0, n1), Replica: paxi.MustID("9.9"), Instance: 0, Cmds: cmds, Deps: good},
		epaxos.PreAccept{Ballot: paxi.NewBallot(0, n1), Replica: n1, Instance: 0, Cmds: cmds, Deps: []int64{-1}},
		epaxos.PreAccept{Ballot: paxi.NewBallot(0, n1), Replica: n1, Instance: 0, Cmds: cmds, Deps: []int64{-1, 1 << 40, -1}},
		epaxos.PreAccept{Ballot: paxi.NewBallot(0, n1), Replica: n1, Instance: 0, Cmds: cmds, Deps: []int64{5, -1, -1}},
		epaxos.PreAccept{Ballot: paxi.NewBallot(0, n1), Replica: n1, Instance: 0, Cmds: []paxi.Command{{Op: 77, Key: "k"}}, Deps: good},
		epaxos.PreAccept{Ballot: paxi.NewBallot(0, n1), Replica: n1, Instance: 0, Deps: good},
		epaxos.PreAccept{Ballot: paxi.NewBallot(0, n3), Replica: n1, Instance: 0, Cmds: cmds, Deps: good},
		epaxos.Accept{Ballot: paxi.NewBallot(1, n1), Replica: n1, Instance: 1 << 40, Cmds: cmds, Deps: good},
		epaxos.Commit{Replica: n1, Instance: 0, Cmds: cmds, Deps: nil},
		epaxos.Commit{Replica: n1, Instance: 0, Cmds: []paxi.Command{{Op: paxi.Noop}, put("k", "v")}, Deps: good},
		epaxos.Prepare{Ballot: paxi.NewBallot(1, n1), Replica: n1, Instance: 1 << 40},
		epaxos.PrepareOK{Ballot: 1, Replica: n1, Instance: 1 << 40},
		epaxos.PreAcceptOK{Ballot: 1, Replica: n3, Instance: 1 << 40, Deps: good},
		epaxos.AcceptOK{Ballot: 1, Replica: n3, Instance: -1},
		epaxos.Nack{Ballot: 1, Replica: paxi.MustID("7.7"), Instance: 0},
		epaxos.Heartbeat{Committed: []int64{1}, Max: nil},
		epaxos.Heartbeat{Committed: []int64{-1, -1, -1}, Max: []int64{-1, 1 << 40, -1}},
		epaxos.CatchUp{Replica: n1, From: 5, To: 1},
		epaxos.CatchUp{Replica: paxi.MustID("8.8"), From: 0, To: 1 << 40},
	}
	for _, m := range bad {
		if err := r.Step(n1, m); err != nil {
			t.Errorf("%v: %v", m, err)
		}
	}
	if err := r.Step(paxi.MustID("6.6"), epaxos.Commit{Replica: n1, Instance: 0, Cmds: cmds, Deps: good}); err != nil {
		t.Error(err)
	}
	for q, n := range r.Instances() {
		if n != 0 {
			t.Errorf("row %d has %d instances after garbage", q, n)
		}
	}
	// A client request with an unknown operation is answered with an error.
	h := c.Submit(n2, paxi.Command{Op: 99, Key: "k"})
	rep := await(t, c, time.Second, h)[0]
	if rep.Err == "" {
		t.Fatalf("request with an unknown operation answered %v", rep)
	}
}

// The same seed gives the same run, event for event.
func TestDeterministicTrace(t *testing.T) {
	trace := func(seed uint64) uint64 {
		opts := sim.LAN(seed)
		opts.Loss = 0.1
		c, err := sim.New(config(3), epaxos.Protocol(), opts)
		if err != nil {
			t.Fatal(err)
		}
		h := fnv.New64a()
		c.Trace = func(at time.Duration, from, to paxi.ID, m paxi.Message) {
			fmt.Fprintf(h, "%d %v %v %v\n", at, from, to, m)
		}
		for i := range 30 {
			c.Submit(c.IDs()[i%3], put(fmt.Sprint("k", i%2), fmt.Sprint(i)))
		}
		c.RunFor(3 * time.Second)
		return h.Sum64()
	}
	if a, b := trace(11), trace(11); a != b {
		t.Fatalf("same seed, different traces: %x vs %x", a, b)
	}
	if a, b := trace(11), trace(12); a == b {
		t.Fatalf("different seeds gave the same trace %x", a)
	}
}
