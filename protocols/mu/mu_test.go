package mu_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols/mu"
	"github.com/ailidani/paxi-style/sim"
)

// These tests follow PROTOCOLS.md §9 (Mu) and the scenarios of §12, in
// the init / step / check shape: build a simulated cluster with an RDMA
// fabric, drive it, check the claim.

var (
	n1 = paxi.MustID("1.1")
	n2 = paxi.MustID("1.2")
	n3 = paxi.MustID("1.3")
)

func config(n int) *paxi.Config {
	cfg := paxi.DefaultConfig()
	cfg.SetLocal(n, 1, 1735, 8081)
	return cfg
}

func newCluster(t testing.TB, n int, o mu.Options, net sim.Network) *sim.Cluster {
	t.Helper()
	c, err := sim.New(config(n), mu.ProtocolWith(o), net)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func replica(c *sim.Cluster, id paxi.ID) *mu.Replica { return c.Replica(id).(*mu.Replica) }

func leaderOf(c *sim.Cluster) paxi.ID {
	for _, id := range c.IDs() {
		if !c.Down(id) && replica(c, id).IsLeader() {
			return id
		}
	}
	return 0
}

func elect(t testing.TB, c *sim.Cluster) paxi.ID {
	t.Helper()
	if !c.RunUntil(func() bool { return leaderOf(c) != 0 }, time.Second) {
		t.Fatal("no leader within 1s of virtual time")
	}
	return leaderOf(c)
}

func put(key, value string) paxi.Command {
	return paxi.Command{Op: paxi.Put, Key: key, Value: []byte(value)}
}

func await(t testing.TB, c *sim.Cluster, limit time.Duration, hs ...uint64) []paxi.Reply {
	t.Helper()
	out, ok := c.Await(limit, hs...)
	if !ok {
		t.Fatalf("not every request answered within %v", limit)
	}
	for _, r := range out {
		if r.Err != "" {
			t.Fatalf("reply error: %v", r)
		}
	}
	return out
}

func history(c *sim.Cluster, id paxi.ID, key string) []string {
	var out []string
	for _, v := range c.Store(id).History(key) {
		out = append(out, string(v.Value))
	}
	return out
}

// sameStores checks every replica applied the same history of key.
func sameStores(t *testing.T, c *sim.Cluster, key string, want []string) {
	t.Helper()
	for _, id := range c.IDs() {
		if got := history(c, id, key); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%v: history of %q = %v, want %v", id, key, got, want)
		}
	}
}

// The lowest node leads, writes every command into the followers' logs,
// and every replica applies them in order, followers from their logs.
func TestReplicatesThroughFollowerLogs(t *testing.T) {
	c := newCluster(t, 3, mu.Options{}, sim.LAN(1))
	if l := elect(t, c); l != n1 {
		t.Fatalf("leader %v, want the lowest node %v", l, n1)
	}
	var want []string
	for i := range 20 {
		at := c.IDs()[i%3]
		v := fmt.Sprint(i)
		want = append(want, v)
		await(t, c, time.Second, c.Submit(at, put("k", v)))
	}
	c.RunFor(time.Millisecond)
	sameStores(t, c, "k", want)
	for _, id := range []paxi.ID{n2, n3} {
		if g := replica(c, id).Grantee(); g != n1 {
			t.Errorf("%v granted its log to %v, want %v", id, g, n1)
		}
		if w := replica(c, id).WritableBy(); fmt.Sprint(w) != fmt.Sprint([]paxi.ID{n1}) {
			t.Errorf("%v's log writable by %v, want only %v", id, w, n1)
		}
	}
}
