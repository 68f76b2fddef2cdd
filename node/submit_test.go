package node_test

import (
	"errors"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/paxi"
)

type submitted struct {
	rep paxi.Reply
	err error
}

// Submit answers through its callback: with the reply when the command
// commits, with a timeout when it cannot (no quorum), and with ErrStopped
// for calls still waiting when the node closes and for calls after it.
func TestSubmit(t *testing.T) {
	c := startCluster(t, 3)
	leader := c.leader(t, c.cfg.IDs())
	nd := c.nodes[leader]
	got := make(chan submitted, 8)
	done := func(r paxi.Reply, err error) { got <- submitted{r, err} }

	nd.Submit(paxi.Command{Op: paxi.Put, Key: "k", Value: []byte("v"), ClientID: "s", CommandID: 1}, 5*time.Second, done)
	if s := <-got; s.err != nil || s.rep.Result.Version != 1 {
		t.Fatalf("put: %+v, %v; want version 1", s.rep, s.err)
	}
	nd.Submit(paxi.Command{Op: paxi.Get, Key: "k", ClientID: "s", CommandID: 2}, 5*time.Second, done)
	if s := <-got; s.err != nil || string(s.rep.Result.Value) != "v" {
		t.Fatalf("get: %q, %v; want v", s.rep.Result.Value, s.err)
	}

	// Without the followers no quorum answers: the call times out.
	for id, other := range c.nodes {
		if id != leader {
			other.Close()
		}
	}
	start := time.Now()
	nd.Submit(paxi.Command{Op: paxi.Put, Key: "k", Value: []byte("w"), ClientID: "s", CommandID: 3}, 300*time.Millisecond, done)
	s := <-got
	if !errors.Is(s.err, paxi.ErrTimeout) {
		t.Fatalf("put without a quorum: %v, want ErrTimeout", s.err)
	}
	t.Logf("timed out after %v (timeout 300ms)", time.Since(start).Round(time.Millisecond))

	// A call waiting when the node closes, and one after, are answered.
	nd.Submit(paxi.Command{Op: paxi.Put, Key: "k", Value: []byte("x"), ClientID: "s", CommandID: 4}, time.Minute, done)
	nd.Close()
	<-nd.Done()
	nd.Submit(paxi.Command{Op: paxi.Get, Key: "k", ClientID: "s", CommandID: 5}, time.Minute, done)
	for range 2 {
		select {
		case s := <-got:
			if !errors.Is(s.err, paxi.ErrStopped) {
				t.Errorf("call at close: %v, want ErrStopped", s.err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a submitted call was never answered after Close")
		}
	}
}
