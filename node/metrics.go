package node

import (
	"context"
	"net/http"

	"github.com/ailidani/paxi-style/metrics"
	"github.com/ailidani/paxi-style/paxi"
)

// metricsState reads what /metrics reports about the replica, on the event
// loop (the replica is not safe to read from any other goroutine). Leader
// and ballot come from the optional methods Leader() paxi.ID and Ballot()
// paxi.Ballot, as in Status.
func (n *Node) metricsState(ctx context.Context) (metrics.State, error) {
	var s metrics.State
	err := n.query(ctx, func() {
		s.Applied = n.store.Applied()
		s.Waiting = len(n.waiters)
		if r, ok := n.replica.(interface{ Leader() paxi.ID }); ok {
			s.Leader, s.HasLeader = r.Leader(), true
		}
		if r, ok := n.replica.(interface{ Ballot() paxi.Ballot }); ok {
			s.Ballot, s.HasBallot = r.Ballot(), true
		}
	})
	return s, err
}

// Metrics serves the node's Prometheus metrics (also at /metrics on its
// REST port), for processes that host nodes behind another server.
func (n *Node) Metrics() http.Handler { return n.metrics.Handler() }
