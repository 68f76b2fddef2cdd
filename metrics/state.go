package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ailidani/paxi-style/paxi"
)

// scrapeTimeout bounds how long a scrape waits for the node's event loop.
const scrapeTimeout = 2 * time.Second

// stateCollector reads a node's State once per scrape and reports it.
type stateCollector struct {
	state                                  StateFunc
	up, applied, waiting, isLeader, ballot *prometheus.Desc
	ballotRound, leaderInfo                *prometheus.Desc
	self                                   paxi.ID
}

func newStateCollector(id paxi.ID, labels prometheus.Labels, state StateFunc) *stateCollector {
	d := func(name, help string, vars ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, vars, labels)
	}
	return &stateCollector{
		state:       state,
		self:        id,
		up:          d("paxi_node_up", "1 if the node's event loop answered this scrape, 0 if it did not in time."),
		applied:     d("paxi_commands_executed_total", "Commands executed by this node's store (committed and applied)."),
		waiting:     d("paxi_requests_waiting", "Client requests at this node waiting for their reply."),
		isLeader:    d("paxi_is_leader", "1 if this node believes it is the leader."),
		ballot:      d("paxi_ballot", "The replica's current ballot, as its 64-bit number (round << 32 | zone << 16 | node)."),
		ballotRound: d("paxi_ballot_round", "The round of the replica's current ballot."),
		leaderInfo:  d("paxi_leader_info", "Always 1; the label names the node this node believes leads.", "leader"),
	}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.applied, c.waiting, c.isLeader, c.ballot, c.ballotRound, c.leaderInfo} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
	defer cancel()
	s, err := c.state(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 1)
	ch <- prometheus.MustNewConstMetric(c.applied, prometheus.CounterValue, float64(s.Applied))
	ch <- prometheus.MustNewConstMetric(c.waiting, prometheus.GaugeValue, float64(s.Waiting))
	if s.HasBallot {
		ch <- prometheus.MustNewConstMetric(c.ballot, prometheus.GaugeValue, float64(s.Ballot))
		ch <- prometheus.MustNewConstMetric(c.ballotRound, prometheus.GaugeValue, float64(s.Ballot.Round()))
	}
	if s.HasLeader {
		leads := 0.0
		if s.Leader == c.self {
			leads = 1
		}
		ch <- prometheus.MustNewConstMetric(c.isLeader, prometheus.GaugeValue, leads)
		if s.Leader != 0 {
			ch <- prometheus.MustNewConstMetric(c.leaderInfo, prometheus.GaugeValue, 1, s.Leader.String())
		}
	}
}
