package fpaxos_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols/fpaxos"
	"github.com/ailidani/paxi-style/protocols/paxos"
	"github.com/ailidani/paxi-style/sim"
)

func config(n, zones int, q paxi.QuorumConfig) *paxi.Config {
	cfg := paxi.DefaultConfig()
	cfg.SetLocal(n, zones, 1735, 8081)
	cfg.Quorum = q
	return cfg
}

func TestValidateRejectsQuorumsThatMiss(t *testing.T) {
	tests := []struct {
		name  string
		n     int
		zones int
		q     paxi.QuorumConfig
		want  string // "" = valid
	}{
		{"majority", 5, 1, paxi.QuorumConfig{}, ""},
		{"count 4+2 of 5", 5, 1, paxi.QuorumConfig{System: "count", Q1: 4, Q2: 2}, ""},
		{"count 3+2 of 5", 5, 1, paxi.QuorumConfig{System: "count", Q1: 3, Q2: 2}, "can miss each other: need q1+q2 > 5"},
		{"count too big", 3, 1, paxi.QuorumConfig{System: "count", Q1: 4, Q2: 1}, "must be in [1,3]"},
		{"grid 3x3", 9, 3, paxi.QuorumConfig{System: "grid-zone-q2"}, ""},
		{"grid incomplete", 7, 3, paxi.QuorumConfig{System: "grid-zone-q1"}, "complete grid"},
		{"unknown", 3, 1, paxi.QuorumConfig{System: "random"}, `quorum.system = "random"`},
	}
	for _, tt := range tests {
		cfg := config(tt.n, tt.zones, tt.q)
		cfg.Protocol = "fpaxos"
		err := cfg.Validate()
		if err == nil {
			err = fpaxos.Validate(cfg)
		}
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
}

func leader(c *sim.Cluster) paxi.ID {
	for _, id := range c.IDs() {
		if c.Replica(id).(*paxos.Paxos).IsLeader() {
			return id
		}
	}
	return 0
}

// FPaxos §3: with |Q2| = 2 of 5, commits continue with three acceptors
// down, which majority Paxos cannot do.
func TestCommitsWithOnlyTwoNodes(t *testing.T) {
	c, err := sim.New(config(5, 1, paxi.QuorumConfig{System: "count", Q1: 4, Q2: 2}), fpaxos.Protocol(), sim.LAN(1))
	if err != nil {
		t.Fatal(err)
	}
	if !c.RunUntil(func() bool { return leader(c) != 0 }, 5*time.Second) {
		t.Fatal("no leader")
	}
	l := leader(c)
	down := 0
	for _, id := range c.IDs() {
		if id != l && down < 3 {
			c.SetDown(id, true)
			down++
		}
	}
	h := c.Submit(l, paxi.Command{Op: paxi.Put, Key: "k", Value: []byte("v")})
	if _, ok := c.Await(2*time.Second, h); !ok {
		t.Fatal("no commit with a live Q2 of 2")
	}
}

// FPaxos §3: a leader change needs a live Q1: with |Q1| = 4 of 5 and two
// nodes down, no new leader can be elected.
func TestElectionNeedsQ1(t *testing.T) {
	c, err := sim.New(config(5, 1, paxi.QuorumConfig{System: "count", Q1: 4, Q2: 2}), fpaxos.Protocol(), sim.LAN(2))
	if err != nil {
		t.Fatal(err)
	}
	if !c.RunUntil(func() bool { return leader(c) != 0 }, 5*time.Second) {
		t.Fatal("no leader")
	}
	l := leader(c)
	c.SetDown(l, true)
	for _, id := range c.IDs() {
		if id != l {
			c.SetDown(id, true) // a second node down: 3 left < Q1
			break
		}
	}
	c.RunFor(10 * time.Second)
	for _, id := range c.IDs() {
		if !c.Down(id) && c.Replica(id).(*paxos.Paxos).IsLeader() {
			t.Fatalf("%v was elected by fewer than |Q1| = 4 nodes", id)
		}
	}
}

// Thrifty mode sends each P2a to just one other acceptor when |Q2| = 2.
func TestThriftySendsToSmallestQ2(t *testing.T) {
	for _, thrifty := range []bool{false, true} {
		c, err := sim.New(config(5, 1, paxi.QuorumConfig{System: "count", Q1: 4, Q2: 2, Thrifty: thrifty}), fpaxos.Protocol(), sim.LAN(3))
		if err != nil {
			t.Fatal(err)
		}
		if !c.RunUntil(func() bool { return leader(c) != 0 }, 5*time.Second) {
			t.Fatal("no leader")
		}
		p2a := 0
		c.Filter = func(from, to paxi.ID, m paxi.Message) bool {
			if _, ok := m.(paxos.P2a); ok {
				p2a++
			}
			return true
		}
		h := c.Submit(leader(c), paxi.Command{Op: paxi.Put, Key: "k", Value: []byte("v")})
		if _, ok := c.Await(time.Second, h); !ok {
			t.Fatal("no reply")
		}
		want := 4
		if thrifty {
			want = 1
		}
		if p2a != want {
			t.Errorf("thrifty=%v: %d P2a messages for one command, want %d", thrifty, p2a, want)
		}
	}
}

// Thrifty mode still commits when the chosen Q2 member is down: the leader
// retransmits to the others.
func TestThriftyRetriesOthers(t *testing.T) {
	c, err := sim.New(config(5, 1, paxi.QuorumConfig{System: "count", Q1: 4, Q2: 2, Thrifty: true}), fpaxos.Protocol(), sim.LAN(4))
	if err != nil {
		t.Fatal(err)
	}
	if !c.RunUntil(func() bool { return leader(c) != 0 }, 5*time.Second) {
		t.Fatal("no leader")
	}
	l := leader(c)
	ids := c.IDs()
	for i, id := range ids {
		if id == l {
			c.SetDown(ids[(i+1)%len(ids)], true) // the thrifty partner
		}
	}
	h := c.Submit(l, paxi.Command{Op: paxi.Put, Key: "k", Value: []byte("v")})
	if _, ok := c.Await(3*time.Second, h); !ok {
		t.Fatal("thrifty leader stalled on a dead partner")
	}
}
