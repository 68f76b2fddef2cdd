package wpaxos_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols"
	"github.com/ailidani/paxi-style/protocols/wpaxos"
	"github.com/ailidani/paxi-style/sim"
)

// These tests follow the WPaxos paper (Ailijiang et al., TPDS 2020) and
// PROTOCOLS.md §4 and §12 in the init / step / check shape: build a
// simulated cluster of zones, drive it, check the claim.

func config(zones, perZone, fz int, policy string) *paxi.Config {
	cfg := paxi.DefaultConfig()
	cfg.Protocol = "wpaxos"
	cfg.SetLocal(zones*perZone, zones, 1735, 8081)
	cfg.WPaxos = paxi.WPaxosConfig{FZ: fz, Policy: policy}
	return cfg
}

func newCluster(t *testing.T, cfg *paxi.Config, seed uint64) *sim.Cluster {
	t.Helper()
	if err := protocols.Validate(cfg); err != nil {
		t.Fatal(err)
	}
	c, err := sim.New(cfg, wpaxos.Protocol(), sim.LAN(seed))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func id(s string) paxi.ID { return paxi.MustID(s) }

func replica(c *sim.Cluster, n paxi.ID) *wpaxos.WPaxos { return c.Replica(n).(*wpaxos.WPaxos) }

// owner returns the node that leads key, if one does.
func owner(c *sim.Cluster, key string) paxi.ID {
	for _, n := range c.IDs() {
		if !c.Down(n) && replica(c, n).Leads(key) {
			return n
		}
	}
	return 0
}

func put(key, value string) paxi.Command {
	return paxi.Command{Op: paxi.Put, Key: key, Value: []byte(value)}
}

// write submits a put at node n and runs until it is answered.
func write(t *testing.T, c *sim.Cluster, n paxi.ID, key, value string) {
	t.Helper()
	if _, ok := c.Await(5*time.Second, c.Submit(n, put(key, value))); !ok {
		t.Fatalf("put(%s=%s) at %v not answered within 5s", key, value, n)
	}
}

// applied lists the values written to key at a node, in order.
func applied(c *sim.Cluster, n paxi.ID, key string) []string {
	var out []string
	for _, v := range c.Store(n).History(key) {
		out = append(out, string(v.Value))
	}
	return out
}

// sameHistories checks that every live node applied the same writes to key
// in the same order, and returns them.
func sameHistories(t *testing.T, c *sim.Cluster, key string) []string {
	t.Helper()
	c.RunFor(3 * time.Second) // nodes that lost a Commit learn it from heartbeats
	var ref []string
	for i, n := range c.IDs() {
		got := applied(c, n, key)
		if i == 0 {
			ref = got
		} else if !slices.Equal(got, ref) {
			t.Errorf("key %s: node %v applied %v, node %v %v", key, n, got, c.IDs()[0], ref)
		}
	}
	return ref
}

// crossZone drops every message between different zones, except between
// the zones listed in allow (pairs).
func crossZone(allow ...[2]int) func(from, to paxi.ID, m paxi.Message) bool {
	return func(from, to paxi.ID, _ paxi.Message) bool {
		if from.Zone() == to.Zone() {
			return true
		}
		for _, p := range allow {
			if (from.Zone() == p[0] && to.Zone() == p[1]) || (from.Zone() == p[1] && to.Zone() == p[0]) {
				return true
			}
		}
		return false
	}
}

// The first node to use an object takes it (phase 1 from ballot 0), and
// with fz = 0 its commits need only a majority of its own zone: cut off
// from every other zone, the owner's zone keeps committing (paper §3.2:
// "Q2 ... within the leader's zone").
func TestFz0CommitsStayInOwnerZone(t *testing.T) {
	c := newCluster(t, config(3, 3, 0, paxi.WPaxosNone), 1)
	write(t, c, id("2.1"), "x", "first")
	if got := owner(c, "x"); got != id("2.1") {
		t.Fatalf("owner of x is %v, want 2.1, the node that used it first", got)
	}
	c.Filter = crossZone()
	for i := range 5 {
		write(t, c, id("2.2"), "x", fmt.Sprint("cut-", i))
	}
	c.Filter = nil
	got := sameHistories(t, c, "x")
	if len(got) != 6 {
		t.Fatalf("x has %d writes, want 6: %v", len(got), got)
	}
}

// With fz = 1, phase 2 needs majorities in two zones: the same cut stops
// the owner's commits, and letting one other zone through restarts them.
func TestFz1Phase2SpansTwoZones(t *testing.T) {
	c := newCluster(t, config(3, 3, 1, paxi.WPaxosNone), 2)
	write(t, c, id("2.1"), "x", "first")
	c.Filter = crossZone()
	h := c.Submit(id("2.2"), put("x", "cut"))
	if _, ok := c.Await(2*time.Second, h); ok {
		t.Fatal("a commit with fz = 1 completed inside one zone")
	}
	c.Filter = crossZone([2]int{2, 3})
	if _, ok := c.Await(5*time.Second, h); !ok {
		t.Fatal("no commit with zones 2 and 3 connected")
	}
	c.Filter = nil
	sameHistories(t, c, "x")
}

// Zone failure with fz = 1 (PROTOCOLS.md §12): the owner's whole zone goes
// down; a node of another zone whose client waits takes the object over
// with phase 1 on the two remaining zones, and commits on them. With fz = 0
// phase 1 needs every zone, so the object cannot move, while objects owned
// by live zones keep committing in their zones.
func TestZoneFailure(t *testing.T) {
	for _, fz := range []int{0, 1} {
		t.Run(fmt.Sprint("fz=", fz), func(t *testing.T) {
			c := newCluster(t, config(3, 3, fz, paxi.WPaxosNone), 3)
			write(t, c, id("3.1"), "x", "before")
			write(t, c, id("1.1"), "y", "before")
			for _, n := range c.Config().ZoneNodes(3) {
				c.SetDown(n, true)
			}
			h := c.Submit(id("1.2"), put("x", "after"))
			_, moved := c.Await(5*time.Second, h)
			if fz == 1 && !moved {
				t.Fatal("fz = 1: object of the failed zone not taken over within 5s")
			}
			if fz == 0 && moved {
				t.Fatal("fz = 0: object moved out of a failed zone, with a phase 1 that missed it")
			}
			if fz == 1 && owner(c, "x").Zone() == 3 {
				t.Fatalf("x still owned by %v", owner(c, "x"))
			}
			write(t, c, id("1.3"), "y", "after") // live zone's object
			for _, n := range c.Config().ZoneNodes(3) {
				c.SetDown(n, false)
			}
			if !moved {
				if _, ok := c.Await(10*time.Second, h); !ok {
					t.Fatal("x not written after zone 3 came back")
				}
			}
			if got := sameHistories(t, c, "x"); !slices.Equal(got, []string{"before", "after"}) {
				t.Fatalf("x history %v", got)
			}
		})
	}
}

// Node failure inside the owner's zone, for each fz (PROTOCOLS.md §12). Q2
// is a majority in any fz+1 zones, so commits go on when the owner's zone
// loses its majority: they use other zones, at WAN cost. Moving the object
// is another matter: phase 1 needs majorities in Z-fz zones, so with fz = 0
// no node can take it over until the zone recovers (the attempt even stops
// the old owner, as any higher ballot does), while with fz = 1 it moves.
func TestNodeFailureInOwnerZone(t *testing.T) {
	for _, fz := range []int{0, 1} {
		t.Run(fmt.Sprint("fz=", fz), func(t *testing.T) {
			c := newCluster(t, config(3, 3, fz, paxi.WPaxosNone), 4)
			write(t, c, id("1.1"), "x", "0")
			c.SetDown(id("1.2"), true)
			write(t, c, id("1.1"), "x", "1")
			c.SetDown(id("1.3"), true)
			write(t, c, id("1.1"), "x", "2")
			c.RunFor(time.Second)
			hint := wpaxos.LeaderChange{Key: "x", From: id("1.1"), To: id("2.1"), Ballot: replica(c, id("2.1")).Ballot("x")}
			if err := c.Replica(id("2.1")).Step(id("1.1"), hint); err != nil {
				t.Fatal(err)
			}
			c.RunFor(3 * time.Second)
			o := owner(c, "x")
			if fz == 1 && o != id("2.1") {
				t.Fatalf("fz = 1: owner %v after LeaderChange to 2.1, want 2.1", o)
			}
			if fz == 0 && o != 0 {
				t.Fatalf("fz = 0: owner %v while zone 1 has no majority, want none", o)
			}
			c.SetDown(id("1.2"), false)
			c.SetDown(id("1.3"), false)
			write(t, c, id("2.1"), "x", "3")
			if o := owner(c, "x"); o != id("2.1") {
				t.Fatalf("owner %v after the zone recovered, want 2.1", o)
			}
			if got := sameHistories(t, c, "x"); !slices.Equal(got, []string{"0", "1", "2", "3"}) {
				t.Fatalf("x history %v", got)
			}
		})
	}
}

// Two zones stealing the same hot object (PROTOCOLS.md §12, §4.5 pitfall
// 2). Clients in zones 1 and 2 take turns writing one key. Under the
// immediate policy the object moves back and forth, but the randomised
// back-off after each move bounds how often, and every write completes.
// Under the consecutive policy (threshold 3) it never moves: neither zone
// sends three requests in a row.
func TestTwoZonesShareHotObject(t *testing.T) {
	tests := []struct {
		policy             string
		minMoves, maxMoves int
	}{
		{paxi.WPaxosImmediate, 4, 40},
		{paxi.WPaxosConsecutive, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.policy, func(t *testing.T) {
			c := newCluster(t, config(3, 3, 0, tt.policy), 5)
			write(t, c, id("1.1"), "hot", "start")
			moves, last := 0, owner(c, "hot")
			var want []string
			want = append(want, "start")
			for i := range 40 {
				at := []paxi.ID{id("2.1"), id("1.1")}[i%2]
				v := fmt.Sprint(at, "-", i)
				write(t, c, at, "hot", v)
				want = append(want, v)
				c.RunFor(100 * time.Millisecond)
				if o := owner(c, "hot"); o != 0 && o != last {
					moves, last = moves+1, o
				}
			}
			got := sameHistories(t, c, "hot")
			if !slices.Equal(got, want) {
				t.Fatalf("history %v, want the writes in the order they were acknowledged %v", got, want)
			}
			if moves < tt.minMoves || moves > tt.maxMoves {
				t.Fatalf("object moved %d times in 8s, want %d to %d", moves, tt.minMoves, tt.maxMoves)
			}
			t.Logf("%s: %d moves", tt.policy, moves)
		})
	}
}

// The consecutive policy moves an object to a zone that sends threshold
// requests in a row (the owner sends LeaderChange), and only then.
func TestConsecutiveAccessesMoveObject(t *testing.T) {
	cfg := config(3, 1, 0, paxi.WPaxosConsecutive)
	cfg.WPaxos.Threshold = 3
	c := newCluster(t, cfg, 6)
	write(t, c, id("1.1"), "x", "0")
	for i := range 2 {
		write(t, c, id("2.1"), "x", fmt.Sprint("remote-", i))
	}
	c.RunFor(time.Second)
	if o := owner(c, "x"); o != id("1.1") {
		t.Fatalf("after 2 remote requests owner is %v, want 1.1", o)
	}
	write(t, c, id("2.1"), "x", "remote-2")
	c.RunFor(time.Second)
	if o := owner(c, "x"); o != id("2.1") {
		t.Fatalf("after 3 remote requests in a row owner is %v, want 2.1", o)
	}
	sameHistories(t, c, "x")
}

// A LeaderChange is acted on only by the node it names, and only while
// that node's ballot for the object is the one the owner had when it sent
// it (PROTOCOLS.md §4.3: stale migration hints must be ignored).
func TestStaleLeaderChangeIgnored(t *testing.T) {
	c := newCluster(t, config(3, 1, 0, paxi.WPaxosNone), 7)
	write(t, c, id("1.1"), "x", "0")
	c.RunFor(time.Second)
	b := replica(c, id("2.1")).Ballot("x")
	if b == 0 || b.ID() != id("1.1") {
		t.Fatalf("2.1's ballot for x is %v, want one of 1.1", b)
	}
	stale := []wpaxos.LeaderChange{
		{Key: "x", From: id("1.1"), To: id("2.1"), Ballot: paxi.NewBallot(b.Round()-1, id("1.1"))},
		{Key: "x", From: id("1.1"), To: id("3.1"), Ballot: b},
		{Key: "nosuch", From: id("1.1"), To: id("2.1"), Ballot: b},
	}
	for _, m := range stale {
		if err := c.Replica(id("2.1")).Step(id("1.1"), m); err != nil {
			t.Fatal(err)
		}
		c.RunFor(time.Second)
		if o := owner(c, "x"); o != id("1.1") {
			t.Fatalf("after %v the owner is %v, want 1.1", m, o)
		}
	}
	current := wpaxos.LeaderChange{Key: "x", From: id("1.1"), To: id("2.1"), Ballot: b}
	if err := c.Replica(id("2.1")).Step(id("1.1"), current); err != nil {
		t.Fatal(err)
	}
	c.RunFor(time.Second)
	if o := owner(c, "x"); o != id("2.1") {
		t.Fatalf("after the current %v the owner is %v, want 2.1", current, o)
	}
}

// Objects are independent: each has its own owner, and owners in different
// zones commit in parallel (paper §3: multiple concurrent leaders).
func TestObjectsHaveOwnersInEveryZone(t *testing.T) {
	c := newCluster(t, config(3, 3, 0, paxi.WPaxosNone), 8)
	var hs []uint64
	for z := 1; z <= 3; z++ {
		for i := range 3 {
			hs = append(hs, c.Submit(paxi.NewID(z, 1+i), put(fmt.Sprint("z", z), fmt.Sprint(i))))
		}
	}
	if _, ok := c.Await(5*time.Second, hs...); !ok {
		t.Fatal("not every write answered")
	}
	for z := 1; z <= 3; z++ {
		key := fmt.Sprint("z", z)
		if o := owner(c, key); o.Zone() != z {
			t.Errorf("%s owned by %v, want a node of zone %d", key, o, z)
		}
		if got := sameHistories(t, c, key); len(got) != 3 {
			t.Errorf("%s history %v", key, got)
		}
	}
}

// An owner that crashes recovers its objects' promises and logs from
// durable state: a node whose client waits takes the object over in the
// meantime, and afterwards every node agrees on the object's history.
func TestOwnerCrashAndRecovery(t *testing.T) {
	c := newCluster(t, config(3, 3, 0, paxi.WPaxosImmediate), 9)
	for i := range 3 {
		write(t, c, id("1.1"), "x", fmt.Sprint("a", i))
	}
	c.Crash(id("1.1"))
	write(t, c, id("1.2"), "x", "during")
	if err := c.Restart(id("1.1")); err != nil {
		t.Fatal(err)
	}
	c.RunFor(2 * time.Second)
	write(t, c, id("1.1"), "x", "after")
	got := sameHistories(t, c, "x")
	if want := []string{"a0", "a1", "a2", "during", "after"}; !slices.Equal(got, want) {
		t.Fatalf("history %v, want %v", got, want)
	}
}

// An idle object's owner stops sending a heartbeat every tick: after the
// last change they go out at growing intervals, so a thousand idle objects
// cost a few messages a second instead of twenty thousand.
func TestIdleObjectHeartbeatsBackOff(t *testing.T) {
	c := newCluster(t, config(3, 1, 0, paxi.WPaxosNone), 10)
	write(t, c, id("1.1"), "x", "0")
	c.RunFor(time.Second)
	beats := 0
	c.Trace = func(_ time.Duration, from, to paxi.ID, m paxi.Message) {
		if _, ok := m.(wpaxos.Heartbeat); ok && from == id("1.1") && to == id("2.1") {
			beats++
		}
	}
	c.RunFor(10 * time.Second)
	// 200 ticks; one every 32 ticks once backed off.
	if beats < 3 || beats > 10 {
		t.Fatalf("%d heartbeats in 10s of idleness, want 3 to 10 (one every 32 ticks)", beats)
	}
	write(t, c, id("2.1"), "x", "1") // a change: back to every tick, and the write is learnt
	sameHistories(t, c, "x")
}

// The configuration is validated with errors that name the field.
func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		zones  int
		mutate func(*paxi.WPaxosConfig)
		want   string // "" = valid
	}{
		{"defaults", 3, func(*paxi.WPaxosConfig) {}, ""},
		{"fz 2 of 3 zones", 3, func(w *paxi.WPaxosConfig) { w.FZ = 2 }, ""},
		{"fz = zones", 3, func(w *paxi.WPaxosConfig) { w.FZ = 3 }, "wpaxos.fz = 3 with zones [1 2 3]"},
		{"fz with one zone", 1, func(w *paxi.WPaxosConfig) { w.FZ = 1 }, "need 0 <= fz < zones"},
		{"negative fz", 3, func(w *paxi.WPaxosConfig) { w.FZ = -1 }, "wpaxos.fz = -1: must not be negative"},
		{"unknown policy", 3, func(w *paxi.WPaxosConfig) { w.Policy = "ema" }, `wpaxos.policy = "ema"`},
		{"threshold", 3, func(w *paxi.WPaxosConfig) { w.Policy, w.Threshold = "consecutive", 5 }, ""},
		{"negative threshold", 3, func(w *paxi.WPaxosConfig) { w.Threshold = -2 }, "wpaxos.threshold = -2"},
		{"threshold without consecutive", 3, func(w *paxi.WPaxosConfig) { w.Policy, w.Threshold = "immediate", 2 }, `applies only to policy "consecutive"`},
	}
	for _, tt := range tests {
		cfg := config(tt.zones, 3, 0, "")
		tt.mutate(&cfg.WPaxos)
		err := protocols.Validate(cfg)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
	b := []byte(`{"protocol": "wpaxos", "address": {"1.1": "127.0.0.1:1735"}, "http_address": {"1.1": "http://127.0.0.1:8081"}, "wpaxos": {"fz": 0, "policy": "immediate"}}`)
	cfg, err := paxi.ParseConfig(b)
	if err != nil || cfg.WPaxos.PolicyName() != paxi.WPaxosImmediate {
		t.Fatalf("ParseConfig: %v, %+v", err, cfg)
	}
}

// The paper's latency shape (§5, PROTOCOLS.md §4.6), in virtual time over
// the aws5 round-trip times: taking an object costs one round trip to the
// farthest zone phase 1 needs (fz = 0: every zone; 62 ms from Virginia to
// California), and every later access from the owner's zone commits inside
// the zone, in about a LAN round trip.
func TestWANLatencyShape(t *testing.T) {
	cfg := config(3, 3, 0, paxi.WPaxosConsecutive)
	cfg.WAN = &paxi.WAN{Preset: "aws5"}
	c := newCluster(t, cfg, 11)
	timed := func(n paxi.ID, key string) time.Duration {
		start := c.Now()
		write(t, c, n, key, "v")
		return c.Now() - start
	}
	if d := timed(id("1.1"), "x"); d < 62*time.Millisecond || d > 70*time.Millisecond {
		t.Fatalf("first access from Virginia took %v, want one round trip to California (62 ms)", d)
	}
	for i := range 10 {
		n := []paxi.ID{id("1.1"), id("1.2")}[i%2]
		if d := timed(n, "x"); d > 5*time.Millisecond {
			t.Fatalf("access %d from the owner's zone took %v, want a LAN round trip", i, d)
		}
	}
}
