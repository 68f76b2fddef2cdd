package vpaxos

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/sim"
)

// These tests check the claims of Vertical Paxos II (Lamport, Malkhi, Zhou,
// PODC 2009, §4) and the scenarios of PROTOCOLS.md §12 for VPaxos, in the
// init / step / check shape: build a simulated cluster, drive it (cutting
// chosen messages with the cluster's Filter), check the claim.

func newCluster(t *testing.T, n, zones int, opts Options, seed uint64) *sim.Cluster {
	t.Helper()
	cfg := paxi.DefaultConfig()
	cfg.SetLocal(n, zones, 1735, 8081)
	c, err := sim.New(cfg, ProtocolWithOptions(opts), sim.LAN(seed))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func rep(c *sim.Cluster, id paxi.ID) *VPaxos { return c.Replica(id).(*VPaxos) }

func put(key, value string) paxi.Command {
	return paxi.Command{Op: paxi.Put, Key: key, Value: []byte(value)}
}

func get(key string) paxi.Command { return paxi.Command{Op: paxi.Get, Key: key} }

func await(t *testing.T, c *sim.Cluster, limit time.Duration, hs ...uint64) []paxi.Reply {
	t.Helper()
	out, ok := c.Await(limit, hs...)
	if !ok {
		t.Fatalf("not every request answered within %v", limit)
	}
	for i, r := range out {
		if r.Err != "" {
			t.Fatalf("request %d failed: %s", i, r.Err)
		}
	}
	return out
}

// primaryOf returns the active primary of key with the highest ballot
// (0 if none), its ballot and its configuration.
func primaryOf(c *sim.Cluster, key string) (paxi.ID, paxi.Ballot, Configuration) {
	var id paxi.ID
	var best paxi.Ballot
	var cfg Configuration
	for _, n := range c.IDs() {
		if c.Down(n) {
			continue
		}
		if b, conf, ok := rep(c, n).Primary(key); ok && b > best {
			id, best, cfg = n, b, conf
		}
	}
	return id, best, cfg
}

func history(c *sim.Cluster, id paxi.ID, key string) []string {
	var out []string
	for _, v := range c.Store(id).History(key) {
		out = append(out, string(v.Value))
	}
	return out
}

// settled runs the cluster for a while without clients, then checks that
// every live node applied the same writes to key, and that no two nodes
// hold a slot committed with different commands.
func settled(t *testing.T, c *sim.Cluster, key string) []string {
	t.Helper()
	c.RunFor(3 * time.Second)
	var ref paxi.ID
	for _, id := range c.IDs() {
		if c.Down(id) {
			continue
		}
		if ref == 0 {
			ref = id
			continue
		}
		if got, want := history(c, id, key), history(c, ref, key); !slices.Equal(got, want) {
			t.Errorf("history of %q at %v is %q, at %v %q", key, id, got, ref, want)
		}
	}
	reps := map[paxi.ID]paxi.Replica{}
	for _, id := range c.IDs() {
		if !c.Down(id) {
			reps[id] = c.Replica(id)
		}
	}
	if err := Check(reps); err != nil {
		t.Error(err)
	}
	return history(c, ref, key)
}

// committedAt lists the values committed for key in ballot b at node id.
func committedAt(c *sim.Cluster, id paxi.ID, key string, b paxi.Ballot) []string {
	var out []string
	if o := rep(c, id).objects[key]; o != nil {
		for _, e := range o.log {
			if e != nil && e.committed && e.ballot == b && e.cmd.Op == paxi.Put {
				out = append(out, string(e.cmd.Value))
			}
		}
	}
	return out
}

var (
	n11 = paxi.MustID("1.1")
	n12 = paxi.MustID("1.2")
	n13 = paxi.MustID("1.3")
	n14 = paxi.MustID("1.4")
	n15 = paxi.MustID("1.5")
	n21 = paxi.MustID("2.1")
	n31 = paxi.MustID("3.1")
)

// The first node to receive a request for an object asks the master for
// its first ballot and becomes its primary; the configuration is the
// primary and its nearest backups, and every node executes every command.
func TestFirstRequesterBecomesPrimary(t *testing.T) {
	c := newCluster(t, 3, 1, Options{}, 1)
	await(t, c, 5*time.Second, c.Submit(n12, put("k", "1")))
	id, b, cfg := primaryOf(c, "k")
	if id != n12 || b.ID() != n12 || !slices.Equal(cfg, Configuration{n12, n11, n13}) {
		t.Fatalf("primary %v ballot %v config %v; want 1.2 leading [1.2 1.1 1.3]", id, b, cfg)
	}
	r := await(t, c, 5*time.Second, c.Submit(n13, get("k")))[0]
	if !r.Result.Found || string(r.Result.Value) != "1" {
		t.Fatalf("read at a backup returned %+v, want the value written", r.Result)
	}
	if got := settled(t, c, "k"); !slices.Equal(got, []string{"1"}) {
		t.Fatalf("history %q, want [1]", got)
	}
}

// PROTOCOLS.md §12: an old primary that keeps writing after its object
// moved is fenced. Every message that would tell the old primary about the
// new ballot (P1a, Transfer, P3, Beat) is kept from it, so it still
// believes it leads; its write cannot commit in its ballot, because the
// members that answered the new leader's P1a or installed its Transfer
// promised the new ballot, and the old primary's write quorum is every
// member. The write takes effect once, in the new ballot, after the fenced
// primary hands it over.
func TestOldPrimaryFencedAfterMove(t *testing.T) {
	c := newCluster(t, 3, 3, Options{}, 2) // 1.1, 2.1, 3.1: one node per zone
	await(t, c, 5*time.Second, c.Submit(n11, put("k", "v0")))
	old, oldBallot, _ := primaryOf(c, "k")
	if old != n11 {
		t.Fatalf("primary %v, want 1.1", old)
	}
	c.RunFor(2 * time.Second) // past the policy's dwell time
	c.Filter = func(_, to paxi.ID, m paxi.Message) bool {
		switch m.(type) {
		case P1a, Transfer, Beat, P3:
			return to != old // the old primary never hears of the new ballot
		}
		return true
	}
	// Three requests from zone 3: the locality policy moves k to 3.1.
	var hs []uint64
	for range 3 {
		hs = append(hs, c.Submit(n31, get("k")))
	}
	if !c.RunUntil(func() bool { id, _, _ := primaryOf(c, "k"); return id == n31 }, 10*time.Second) {
		t.Fatal("k did not move to 3.1")
	}
	_, newBallot, _ := primaryOf(c, "k")
	await(t, c, 5*time.Second, hs...)
	if b, _, ok := rep(c, old).Primary("k"); !ok || b != oldBallot {
		t.Fatalf("the old primary should still believe it leads at %v: %v %t", oldBallot, b, ok)
	}
	// The old primary writes; the rejections of its P2a are the first it
	// hears of the new ballot.
	late := c.Submit(old, put("k", "late"))
	if !c.RunUntil(func() bool { _, _, ok := rep(c, old).Primary("k"); return !ok }, 5*time.Second) {
		t.Fatal("the old primary was not fenced by the rejections of its P2a")
	}
	if st := rep(c, old).Stats(); st.Fenced != 1 {
		t.Errorf("old primary stats %+v, want one fencing", st)
	}
	c.Filter = nil
	r := await(t, c, 10*time.Second, late)[0]
	if r.Ballot != newBallot {
		t.Errorf("the old primary's write committed in ballot %v, want the new ballot %v", r.Ballot, newBallot)
	}
	for _, id := range c.IDs() {
		if got := committedAt(c, id, "k", oldBallot); !slices.Equal(got, []string{"v0"}) {
			t.Errorf("node %v holds %q committed in the old ballot, want only v0", id, got)
		}
	}
	if got := settled(t, c, "k"); !slices.Equal(got, []string{"v0", "late"}) {
		t.Errorf("history %q, want [v0 late]", got)
	}
}

// The locality policy moves an object's primary to the zone that sent its
// last MoveAfter requests; with migration off it stays.
func TestMigrationFollowsLocality(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  Options
		moved bool
	}{
		{"policy on", Options{}, true},
		{"after 5", Options{MoveAfter: 5}, true},
		{"policy off", Options{MoveAfter: -1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCluster(t, 3, 3, tc.opts, 3)
			await(t, c, 5*time.Second, c.Submit(n11, put("k", "0")))
			c.RunFor(2 * time.Second)
			for i := range 8 {
				await(t, c, 5*time.Second, c.Submit(n31, put("k", fmt.Sprint(i+1))))
			}
			c.RunFor(2 * time.Second)
			id, b, cfg := primaryOf(c, "k")
			want := n11
			if tc.moved {
				want = n31
			}
			if id != want || b.ID() != want || cfg.Primary() != want {
				t.Fatalf("primary %v ballot %v config %v, want %v", id, b, cfg, want)
			}
			if moves := rep(c, n11).Stats().Moves; (moves == 1) != tc.moved {
				t.Fatalf("1.1 sent %d Move hints", moves)
			}
			r := await(t, c, 5*time.Second, c.Submit(n21, get("k")))[0]
			if string(r.Result.Value) != "8" {
				t.Fatalf("read after migration returned %q, want 8", r.Result.Value)
			}
			if got := settled(t, c, "k"); len(got) != 9 {
				t.Fatalf("history %q, want 9 writes", got)
			}
		})
	}
}

// The configuration master survives the crash of its leader: a new master
// leader is elected among the master members and reconfigurations (here,
// the first ballot of a new object, and a move) go on.
func TestMasterLeaderCrash(t *testing.T) {
	c := newCluster(t, 5, 1, Options{}, 4)
	await(t, c, 5*time.Second, c.Submit(n14, put("a", "1")))
	var ml paxi.ID
	for _, id := range c.IDs() {
		if rep(c, id).IsMasterLeader() {
			ml = id
		}
	}
	if ml == 0 || !slices.Contains(rep(c, n14).members, ml) {
		t.Fatalf("master leader %v, members %v", ml, rep(c, n14).members)
	}
	c.Crash(ml)
	at := n15
	if at == ml {
		at = n14
	}
	r := await(t, c, 10*time.Second, c.Submit(at, put("fresh", "x")))[0]
	id, _, _ := primaryOf(c, "fresh")
	if id != at || r.Ballot.ID() != at {
		t.Fatalf("new object led by %v (reply ballot %v), want %v", id, r.Ballot, at)
	}
	var now paxi.ID
	for _, id := range c.IDs() {
		if !c.Down(id) && rep(c, id).IsMasterLeader() {
			now = id
		}
	}
	if now == 0 || now == ml {
		t.Fatalf("master leader after the crash of %v: %v", ml, now)
	}
	await(t, c, 5*time.Second, c.Submit(at, put("a", "2")))
	if got := settled(t, c, "a"); !slices.Equal(got, []string{"1", "2"}) {
		t.Fatalf("history of a %q, want [1 2]", got)
	}
}

// stuckCompleting sets up the §12 scenarios around a leader that has done
// phase 1 and the transfer but whose Complete does not reach the master:
// 5 nodes (master 1.1-1.3), k led by 1.4, 1.4 crashes, 1.5 takes over and
// stops before Complete.
func stuckCompleting(t *testing.T, seed uint64) (c *sim.Cluster, oldBallot paxi.Ballot, w2 uint64, release func()) {
	c = newCluster(t, 5, 1, Options{}, seed)
	await(t, c, 5*time.Second, c.Submit(n14, put("k", "w1")))
	_, oldBallot, _ = primaryOf(c, "k")
	if oldBallot.ID() != n14 {
		t.Fatalf("k led at %v, want by 1.4", oldBallot)
	}
	blocked := true
	c.Filter = func(from, _ paxi.ID, m paxi.Message) bool {
		op, ok := m.(MasterOp)
		return !(blocked && ok && from == n15 && op.Kind == OpComplete)
	}
	c.Crash(n14)
	w2 = c.Submit(n15, put("k", "w2"))
	if !c.RunUntil(func() bool {
		o := rep(c, n15).objects["k"]
		return o != nil && o.lead != nil && o.lead.phase == completing
	}, 10*time.Second) {
		t.Fatal("1.5 did not take k over as far as Complete")
	}
	return c, oldBallot, w2, func() { blocked = false }
}

// PROTOCOLS.md §12: the new leader dies before Complete. Its ballot is
// never activated, the next leader is told the last active ballot (1.4's),
// reads its configuration, and loses no write.
func TestNewLeaderDiesBeforeComplete(t *testing.T) {
	c, oldBallot, _, _ := stuckCompleting(t, 5)
	c.Crash(n15)
	r := await(t, c, 15*time.Second, c.Submit(n13, put("k", "w3")))[0]
	if r.Ballot.ID() != n13 || r.Ballot <= oldBallot {
		t.Fatalf("w3 committed in ballot %v, want a ballot of 1.3 after %v", r.Ballot, oldBallot)
	}
	got := history(c, n13, "k")
	if !slices.Equal(got[:1], []string{"w1"}) || got[len(got)-1] != "w3" {
		t.Fatalf("history at 1.3 %q: w1 must survive, w3 last", got)
	}
	if err := c.Restart(n14); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(n15); err != nil {
		t.Fatal(err)
	}
	settled(t, c, "k")
}

// PROTOCOLS.md §12: the master issues b' while b is pending. 1.5's ballot b
// is transferred but not complete when 1.3 takes over with b'; when 1.5's
// Complete finally arrives the master refuses it (b is no longer the last
// issued), 1.5 gives b up and hands its request to 1.3, which commits it
// once, in b'.
func TestMasterIssuesNewBallotWhilePending(t *testing.T) {
	c, _, w2, release := stuckCompleting(t, 6)
	w3 := c.Submit(n13, put("k", "w3"))
	if !c.RunUntil(func() bool {
		o := rep(c, n13).objects["k"]
		return o != nil && o.lead != nil && o.lead.ballot != 0
	}, 15*time.Second) {
		t.Fatal("1.3 was not issued a ballot while 1.5's was pending")
	}
	release()
	rs := await(t, c, 15*time.Second, w2, w3)
	_, b, _ := primaryOf(c, "k")
	if b.ID() != n13 || rs[0].Ballot != b || rs[1].Ballot != b {
		t.Fatalf("primary ballot %v; w2 in %v, w3 in %v: want both in 1.3's ballot", b, rs[0].Ballot, rs[1].Ballot)
	}
	if st := rep(c, n15).Stats(); st.Activated != 0 || st.Abandoned == 0 {
		t.Fatalf("1.5 stats %+v: its ballot must be abandoned, never activated", st)
	}
	c.Filter = nil
	if err := c.Restart(n14); err != nil {
		t.Fatal(err)
	}
	if got := settled(t, c, "k"); !slices.Equal(got, []string{"w1", "w2", "w3"}) && !slices.Equal(got, []string{"w1", "w3", "w2"}) {
		t.Fatalf("history %q, want w1 then w2 and w3 once each", got)
	}
}

// A backup that stops answering is left out of a new configuration (the
// primary reads its own state), writes go on, and once the backup is back
// and the suspicion has expired the configuration grows again.
func TestFailedBackupLeftOutAndRegrown(t *testing.T) {
	c := newCluster(t, 3, 1, Options{}, 7)
	await(t, c, 5*time.Second, c.Submit(n11, put("k", "1")))
	if _, _, cfg := primaryOf(c, "k"); len(cfg) != 3 {
		t.Fatalf("config %v, want all three nodes", cfg)
	}
	c.Crash(n13)
	await(t, c, 5*time.Second, c.Submit(n12, put("k", "2")))
	id, _, cfg := primaryOf(c, "k")
	if id != n11 || !slices.Equal(cfg, Configuration{n11, n12}) || rep(c, n11).Stats().Shrinks == 0 {
		t.Fatalf("primary %v config %v stats %+v, want 1.1 with [1.1 1.2] after a shrink", id, cfg, rep(c, n11).Stats())
	}
	if err := c.Restart(n13); err != nil {
		t.Fatal(err)
	}
	c.RunFor(5 * time.Second)
	if _, _, cfg := primaryOf(c, "k"); len(cfg) != 3 {
		t.Fatalf("config %v after the backup came back, want three members again", cfg)
	}
	r := await(t, c, 5*time.Second, c.Submit(n13, get("k")))[0]
	if string(r.Result.Value) != "2" {
		t.Fatalf("read at the restarted node returned %q, want 2", r.Result.Value)
	}
	settled(t, c, "k")
}

// A primary that crashes and restarts comes back as an acceptor with its
// log; a request that reaches it makes it ask for a new ballot (its old
// one is over), and nothing committed before the crash is lost.
func TestPrimaryRestartsAndLeadsAgain(t *testing.T) {
	c := newCluster(t, 3, 1, Options{}, 8)
	await(t, c, 5*time.Second, c.Submit(n11, put("k", "1")), c.Submit(n11, put("k", "2")))
	_, before, _ := primaryOf(c, "k")
	c.Crash(n11)
	if err := c.Restart(n11); err != nil {
		t.Fatal(err)
	}
	r := await(t, c, 10*time.Second, c.Submit(n11, put("k", "3")))[0]
	if r.Ballot <= before {
		t.Fatalf("write after restart committed in %v, want a ballot after %v", r.Ballot, before)
	}
	if got := settled(t, c, "k"); !slices.Equal(got, []string{"1", "2", "3"}) {
		t.Fatalf("history %q, want [1 2 3]", got)
	}
}
