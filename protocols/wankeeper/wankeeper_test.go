package wankeeper_test

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols/wankeeper"
	"github.com/ailidani/paxi-style/sim"
)

// Scenario tests after the paper (Ailijiang et al., ICDCS 2017) and the
// WanKeeper scenarios of PROTOCOLS.md §12, in the init / step / check shape:
// build a simulated cluster, drive it, check the claim. Nodes are spread
// over zones round-robin: with 2 zones of 3, zone 1 is 1.1-1.3 and zone 2 is
// 2.1-2.3.

// rtt is the round trip between two zones in the tests that use a WAN.
const rtt = 100 * time.Millisecond

func newCluster(t *testing.T, n, zones int, opts wankeeper.Options, wan bool, seed uint64) *sim.Cluster {
	t.Helper()
	cfg := paxi.DefaultConfig()
	cfg.SetLocal(n, zones, 1735, 8081)
	if wan {
		m := make([][]paxi.Duration, zones)
		for i := range m {
			m[i] = make([]paxi.Duration, zones)
			for j := range m[i] {
				if i != j {
					m[i][j] = paxi.Duration(rtt)
				}
			}
		}
		cfg.WAN = &paxi.WAN{RTT: m}
	}
	c, err := sim.New(cfg, wankeeper.ProtocolWith(opts), sim.LAN(seed))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func wk(c *sim.Cluster, id paxi.ID) *wankeeper.WanKeeper { return c.Replica(id).(*wankeeper.WanKeeper) }

// zoneLeader returns the active leader of zone z, if any.
func zoneLeader(c *sim.Cluster, z int) paxi.ID {
	for _, id := range c.IDs() {
		if id.Zone() == z && !c.Down(id) && wk(c, id).IsLeader() {
			return id
		}
	}
	return 0
}

// settle runs until every zone has a leader that every node knows.
func settle(t *testing.T, c *sim.Cluster) {
	t.Helper()
	ok := c.RunUntil(func() bool {
		for _, z := range c.Config().Zones() {
			if zoneLeader(c, z) == 0 {
				return false
			}
		}
		return true
	}, 10*time.Second)
	if !ok {
		t.Fatal("not every zone elected a leader within 10s")
	}
	c.RunFor(time.Second) // heartbeats tell every node about every leader
}

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
	for _, r := range out {
		if r.Err != "" {
			t.Fatalf("request failed: %v", r)
		}
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

// sameEverywhere checks that every node applied the same writes to key, and
// returns them.
func sameEverywhere(t *testing.T, c *sim.Cluster, key string) []string {
	t.Helper()
	ok := c.RunUntil(func() bool {
		ref := history(c, c.IDs()[0], key)
		for _, id := range c.IDs()[1:] {
			if !slices.Equal(history(c, id, key), ref) {
				return false
			}
		}
		return true
	}, 5*time.Second)
	want := history(c, c.IDs()[0], key)
	if !ok {
		for _, id := range c.IDs() {
			t.Errorf("node %v: %s = %v", id, key, history(c, id, key))
		}
		t.Fatalf("nodes disagree on %s", key)
	}
	return want
}

// writeFrom writes n values to key from node at, one after the other, and
// returns the virtual time each took.
func writeFrom(t *testing.T, c *sim.Cluster, at paxi.ID, key string, n int, prefix string) []time.Duration {
	t.Helper()
	var took []time.Duration
	for i := range n {
		start := c.Now()
		await(t, c, 5*time.Second, c.Submit(at, put(key, fmt.Sprintf("%s%d", prefix, i))))
		took = append(took, c.Now()-start)
	}
	return took
}

// With one zone, WanKeeper is Multi-Paxos with key slots: every command is
// executed once, at every node, in one order per key, and answered where it
// was submitted.
func TestOneZoneOrdersEveryCommand(t *testing.T) {
	c := newCluster(t, 3, 1, wankeeper.Options{}, false, 1)
	settle(t, c)
	var hs []uint64
	for i := range 30 {
		hs = append(hs, c.Submit(c.IDs()[i%3], put(fmt.Sprint("k", i%2), fmt.Sprint(i))))
	}
	await(t, c, 5*time.Second, hs...)
	for _, key := range []string{"k0", "k1"} {
		if got := sameEverywhere(t, c, key); len(got) != 15 {
			t.Errorf("%s: %d writes applied, want 15: %v", key, len(got), got)
		}
	}
	if !wk(c, zoneLeader(c, 1)).IsMaster() {
		t.Error("the only zone's leader is not the master")
	}
}

// §5.3: the master grants a key's token to a zone that accesses it
// exclusively; from then on that zone commits the key's commands locally,
// without a wide-area round trip.
func TestTokenGrantedToExclusiveZone(t *testing.T) {
	c := newCluster(t, 6, 2, wankeeper.Options{Threshold: 3}, true, 2)
	settle(t, c)
	z2 := paxi.MustID("2.2")
	before := writeFrom(t, c, z2, "x", 3, "a")
	t.Logf("relayed writes took %v", before)
	if min(before[0], before[1], before[2]) < rtt {
		t.Fatalf("writes relayed to the master took %v: less than a round trip %v", before, rtt)
	}
	c.RunFor(time.Second) // the Grant commits, the Token travels, the TokenIn commits
	for _, id := range c.IDs() {
		if z, _ := wk(c, id).Holder("x"); z != 2 || !wk(c, id).Holds(2, "x") {
			t.Fatalf("node %v: token of x held by zone %d (zone 2 holds: %t), want zone 2", id, z, wk(c, id).Holds(2, "x"))
		}
	}
	after := writeFrom(t, c, z2, "x", 5, "b")
	if slices.Max(after) >= rtt/4 {
		t.Fatalf("writes in the holder zone took %v: not local", after)
	}
	r := await(t, c, 5*time.Second, c.Submit(z2, get("x")))[0]
	if string(r.Result.Value) != "b4" {
		t.Fatalf("read at the holder zone returned %q, want b4", r.Result.Value)
	}
	if got := sameEverywhere(t, c, "x"); !slices.Equal(got, []string{"a0", "a1", "a2", "b0", "b1", "b2", "b3", "b4"}) {
		t.Fatalf("history %v", got)
	}
}

// grantTo makes zone z hold key's token: threshold writes from z, then the
// transfer.
func grantTo(t *testing.T, c *sim.Cluster, z int, key string, threshold int) {
	t.Helper()
	writeFrom(t, c, paxi.NewID(z, 1), key, threshold, fmt.Sprintf("z%d-", z))
	if !c.RunUntil(func() bool {
		for _, id := range c.IDs() {
			if !wk(c, id).Holds(z, key) {
				return false
			}
		}
		return true
	}, 5*time.Second) {
		t.Fatalf("zone %d did not get the token of %s", z, key)
	}
}

// §12 "revoke with in-flight proposals" and pitfall 1: the holder's leader
// has proposals for the key in flight (its zone's Acks are held back) when
// the master revokes the token. The TokenOut is logged after them: they are
// committed in the old holder's tenure, in the order proposed, none is lost
// or reordered, and the other zone's write comes after them everywhere.
func TestRevokeWithInFlightProposals(t *testing.T) {
	c := newCluster(t, 6, 2, wankeeper.Options{Threshold: 1}, true, 3)
	settle(t, c)
	grantTo(t, c, 2, "x", 1)
	l2 := zoneLeader(c, 2)
	holdAcks := true
	c.Filter = func(from, to paxi.ID, m paxi.Message) bool {
		_, ack := m.(wankeeper.Ack)
		return !(holdAcks && ack && to == l2)
	}
	var hs []uint64
	for i := range 5 {
		hs = append(hs, c.Submit(paxi.MustID("2.2"), put("x", fmt.Sprint("inflight", i))))
		c.RunFor(time.Millisecond)
	}
	hs = append(hs, c.Submit(paxi.MustID("1.2"), put("x", "from-zone-1")))
	var tokenOut bool
	c.Trace = func(_ time.Duration, from, to paxi.ID, m paxi.Message) {
		if p, ok := m.(wankeeper.Proposal); ok && strings.Contains(p.String(), "out(x") {
			tokenOut = true
		}
	}
	c.RunFor(300 * time.Millisecond) // the Revoke reaches zone 2, its leader proposes TokenOut
	if !tokenOut {
		t.Fatal("test setup: the holder did not propose a TokenOut while its proposals were in flight")
	}
	for _, h := range hs[:5] {
		if _, ok := c.Reply(h); ok {
			t.Fatal("test setup: an in-flight proposal committed while Acks were held")
		}
	}
	holdAcks = false
	await(t, c, 10*time.Second, hs...)
	got := sameEverywhere(t, c, "x")
	want := []string{"z2-0", "inflight0", "inflight1", "inflight2", "inflight3", "inflight4", "from-zone-1"}
	if !slices.Equal(got, want) {
		t.Fatalf("history %v, want %v", got, want)
	}
}

// Proposals that reach the holder's log after its TokenOut bounce: they are
// not executed in the old tenure but routed to the master and executed
// there, once.
func TestProposalsAfterRevokeBounceToMaster(t *testing.T) {
	c := newCluster(t, 6, 2, wankeeper.Options{Threshold: 1}, true, 4)
	settle(t, c)
	grantTo(t, c, 2, "x", 1)
	// Zone 1 wants x; right after the holder's leader logs the TokenOut,
	// zone 2 clients keep writing.
	h1 := c.Submit(paxi.MustID("1.1"), put("x", "z1"))
	var late []uint64
	proposedOut := false
	c.Trace = func(_ time.Duration, from, to paxi.ID, m paxi.Message) {
		if p, ok := m.(wankeeper.Proposal); ok && !proposedOut && strings.Contains(p.String(), "out(x") {
			proposedOut = true
			for i := range 3 {
				late = append(late, c.Submit(paxi.MustID("2.3"), put("x", fmt.Sprint("late", i))))
			}
		}
	}
	await(t, c, 5*time.Second, h1)
	if !proposedOut {
		t.Fatal("test setup: no TokenOut proposed")
	}
	await(t, c, 10*time.Second, late...)
	got := sameEverywhere(t, c, "x")
	if len(got) != 5 || got[0] != "z2-0" {
		t.Fatalf("history %v: want z2-0, then z1 and the three late writes once each", got)
	}
	for _, v := range []string{"z1", "late0", "late1", "late2"} {
		if n := countOf(got, v); n != 1 {
			t.Errorf("%s applied %d times", v, n)
		}
	}
}

func countOf(xs []string, x string) int {
	n := 0
	for _, v := range xs {
		if v == x {
			n++
		}
	}
	return n
}

// A token moves between zones (through the master) many times; every new
// holder sees every write of the holders before it: a read at each new
// holder returns the last write, and every node applies the same history.
func TestTokenMovesBetweenZones(t *testing.T) {
	c := newCluster(t, 9, 3, wankeeper.Options{Threshold: 1}, true, 5)
	settle(t, c)
	last := ""
	for round, z := range []int{2, 3, 2, 1, 3, 2} {
		at := paxi.NewID(z, 1+round%3)
		for i := range 2 {
			last = fmt.Sprintf("r%d-z%d-%d", round, z, i)
			await(t, c, 5*time.Second, c.Submit(at, put("x", last)))
		}
		r := await(t, c, 5*time.Second, c.Submit(at, get("x")))[0]
		if string(r.Result.Value) != last {
			t.Fatalf("round %d: read at zone %d returned %q, want %q", round, z, r.Result.Value, last)
		}
	}
	if got := sameEverywhere(t, c, "x"); len(got) != 12 || got[11] != last {
		t.Fatalf("history %v", got)
	}
	if _, epoch := wk(c, c.IDs()[0]).Holder("x"); epoch < 6 {
		t.Fatalf("token epoch %d after six rounds in changing zones: the token did not move", epoch)
	}
}

// §12 "token grant racing relayed commits" and pitfall 2: the new holder
// gets the token before it has learnt the old holder's commits (they are
// held back on the way). It must not answer a read before it has applied
// them; once they arrive, the read returns the old holder's last write.
func TestNewHolderWaitsForOldHoldersCommits(t *testing.T) {
	c := newCluster(t, 9, 3, wankeeper.Options{Threshold: 1}, true, 6)
	settle(t, c)
	grantTo(t, c, 2, "x", 1)
	block := true
	c.Filter = func(from, to paxi.ID, m paxi.Message) bool {
		_, commit := m.(wankeeper.Commit)
		return !(block && commit && from.Zone() == 2 && to.Zone() == 3)
	}
	writeFrom(t, c, paxi.MustID("2.1"), "x", 3, "old")
	// Zone 3 takes the token: its first write is relayed to the master,
	// which revokes the token from zone 2 and grants it to zone 3.
	h := c.Submit(paxi.MustID("3.1"), put("x", "new"))
	c.RunFor(3 * time.Second)
	if _, ok := c.Reply(h); ok {
		t.Fatal("zone 3 answered its write before learning zone 2's commits")
	}
	hr := c.Submit(paxi.MustID("3.2"), get("x"))
	c.RunFor(time.Second)
	if r, ok := c.Reply(hr); ok {
		t.Fatalf("zone 3 answered a read (%q) before learning zone 2's commits", r.Result.Value)
	}
	block = false
	r := await(t, c, 5*time.Second, h, hr)[1]
	if string(r.Result.Value) != "new" {
		t.Fatalf("read at zone 3 returned %q, want new", r.Result.Value)
	}
	if got := sameEverywhere(t, c, "x"); !slices.Equal(got, []string{"z2-0", "old0", "old1", "old2", "new"}) {
		t.Fatalf("history %v", got)
	}
}

// §12 "master failure": the master (the master zone's leader) crashes while
// a transfer is under way, and loses its volatile state. The master zone
// elects a new master, which derives the token table and the unfinished
// transfer from the logs; the request completes and the nodes agree.
func TestMasterLeaderCrash(t *testing.T) {
	c := newCluster(t, 6, 2, wankeeper.Options{Threshold: 1}, true, 7)
	settle(t, c)
	grantTo(t, c, 2, "x", 1)
	master := zoneLeader(c, 1)
	var client paxi.ID
	for _, id := range c.Config().ZoneNodes(1) {
		if id != master {
			client = id
		}
	}
	h := c.Submit(client, put("x", "after-crash"))
	crashed := false
	c.Trace = func(_ time.Duration, from, to paxi.ID, m paxi.Message) {
		if _, ok := m.(wankeeper.Revoke); ok && from == master && !crashed {
			crashed = true
			c.After(0, func() { c.Crash(master) })
		}
	}
	r := await(t, c, 10*time.Second, h)[0]
	if !crashed {
		t.Fatal("test setup: the master never sent a Revoke")
	}
	if r.Err != "" {
		t.Fatal(r.Err)
	}
	if l := zoneLeader(c, 1); l == 0 || l == master {
		t.Fatalf("master zone led by %v after %v crashed", l, master)
	}
	if err := c.Restart(master); err != nil {
		t.Fatal(err)
	}
	await(t, c, 5*time.Second, c.Submit(paxi.MustID("2.1"), put("x", "later")))
	got := sameEverywhere(t, c, "x")
	if !slices.Equal(got, []string{"z2-0", "after-crash", "later"}) {
		t.Fatalf("history %v", got)
	}
}

// The holder zone's leader crashes after the master's Revoke arrived: the
// zone elects another leader, which finishes the revocation (the master
// repeats it), and every write of the zone is kept.
func TestHolderLeaderCrashDuringRevoke(t *testing.T) {
	c := newCluster(t, 6, 2, wankeeper.Options{Threshold: 1}, true, 8)
	settle(t, c)
	grantTo(t, c, 2, "x", 1)
	writeFrom(t, c, paxi.MustID("2.2"), "x", 3, "held")
	l2 := zoneLeader(c, 2)
	crashed := false
	c.Trace = func(_ time.Duration, from, to paxi.ID, m paxi.Message) {
		if _, ok := m.(wankeeper.Revoke); ok && to == l2 && !crashed {
			crashed = true
			c.After(0, func() { c.Crash(l2) })
		}
	}
	h := c.Submit(paxi.MustID("1.3"), put("x", "master"))
	await(t, c, 10*time.Second, h)
	if !crashed {
		t.Fatal("test setup: no Revoke reached the holder's leader")
	}
	if err := c.Restart(l2); err != nil {
		t.Fatal(err)
	}
	got := sameEverywhere(t, c, "x")
	if !slices.Equal(got, []string{"z2-0", "held0", "held1", "held2", "master"}) {
		t.Fatalf("history %v", got)
	}
}

// A whole zone crashes and recovers from its durable state; it catches up
// on what the other zones did meanwhile.
func TestZoneRecoversFromDurableState(t *testing.T) {
	c := newCluster(t, 6, 2, wankeeper.Options{Threshold: 1}, false, 9)
	settle(t, c)
	writeFrom(t, c, paxi.MustID("2.1"), "y", 2, "before")
	zone2 := c.Config().ZoneNodes(2)
	for _, id := range zone2 {
		c.Crash(id)
	}
	writeFrom(t, c, paxi.MustID("1.1"), "z", 3, "during")
	for _, id := range zone2 {
		if err := c.Restart(id); err != nil {
			t.Fatal(err)
		}
	}
	await(t, c, 10*time.Second, c.Submit(paxi.MustID("2.3"), put("y", "after")))
	if got := sameEverywhere(t, c, "y"); len(got) != 3 || got[2] != "after" {
		t.Fatalf("y: %v", got)
	}
	if got := sameEverywhere(t, c, "z"); len(got) != 3 {
		t.Fatalf("z: %v", got)
	}
}

// The same seed gives the same run, event for event.
func TestDeterministicTrace(t *testing.T) {
	trace := func(seed uint64) uint64 {
		c := newCluster(t, 6, 3, wankeeper.Options{Threshold: 1}, true, seed)
		h := fnv.New64a()
		c.Trace = func(at time.Duration, from, to paxi.ID, m paxi.Message) {
			fmt.Fprintf(h, "%d %v %v %v\n", at, from, to, m)
		}
		for i := range 30 {
			c.Submit(c.IDs()[i%6], put(fmt.Sprint("k", i%3), fmt.Sprint(i)))
		}
		c.RunFor(5 * time.Second)
		return h.Sum64()
	}
	if a, b := trace(11), trace(11); a != b {
		t.Fatalf("same seed, different traces: %x vs %x", a, b)
	}
	if a, b := trace(11), trace(12); a == b {
		t.Fatalf("different seeds gave the same trace %x", a)
	}
}

func TestOptionsValidated(t *testing.T) {
	cfg := paxi.DefaultConfig()
	cfg.SetLocal(6, 2, 1735, 8081)
	tests := []struct {
		opts    wankeeper.Options
		wantErr string
	}{
		{wankeeper.Options{}, ""},
		{wankeeper.Options{MasterZone: 2}, ""},
		{wankeeper.Options{MasterZone: 3}, "master zone 3"},
		{wankeeper.Options{Threshold: -1}, "threshold"},
	}
	for _, tt := range tests {
		err := wankeeper.ProtocolWith(tt.opts).Validate(cfg)
		if (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
			t.Errorf("%+v: error %v, want %q", tt.opts, err, tt.wantErr)
		}
	}
}
