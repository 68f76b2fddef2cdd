// Package simcheck joins the simulator and the checkers: it runs a protocol
// in the simulator for one seed and checks what came out, the client history
// for linearizability and the replicas' stores for agreement. The protocol
// tests and the paxi sim command both use it. The simulator itself does not
// depend on the checkers, so that each can be used alone.
package simcheck

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ailidani/paxi-style/checker"
	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/sim"
	"github.com/ailidani/paxi-style/store"
)

// Outcome is one checked simulation.
type Outcome struct {
	Seed   uint64
	Nodes  int
	Result *sim.Result
	// Linearizable is the checker's verdict on the client history.
	Linearizable checker.Report
	// Consensus is the agreement check of the replicas' stores.
	Consensus checker.ConsensusReport
	// Protocol is what the protocol's own Check reported (nil: fine, or
	// no Check).
	Protocol error
}

// Failed reports whether anything went wrong: a panic, liveness,
// convergence, linearizability or agreement.
func (o *Outcome) Failed() bool {
	return o.Result.Failed() || o.Linearizable.Verdict != checker.Ok || !o.Consensus.Ok() || o.Protocol != nil
}

// Summary is one line describing a failed outcome.
func (o *Outcome) Summary() string {
	var why []string
	r := o.Result
	if r.Panic != "" {
		why = append(why, "panic: "+firstLine(r.Panic))
	}
	if r.Liveness != nil {
		why = append(why, "liveness: "+r.Liveness.Error())
	}
	if r.Converged != nil {
		why = append(why, "convergence: "+r.Converged.Error())
	}
	if o.Linearizable.Verdict != checker.Ok {
		why = append(why, "linearizability: "+firstLine(o.Linearizable.String()))
	}
	if !o.Consensus.Ok() {
		why = append(why, "agreement: "+firstLine(o.Consensus.String()))
	}
	if o.Protocol != nil {
		why = append(why, "protocol check: "+firstLine(o.Protocol.Error()))
	}
	if len(why) == 0 {
		return fmt.Sprintf("seed=%d ok", o.Seed)
	}
	return fmt.Sprintf("seed=%d nodes=%d FAIL %s", o.Seed, o.Nodes, strings.Join(why, "; "))
}

// Report is the full description of a failed outcome: the summary, the
// checkers' reports, the options to replay it and the last events.
func (o *Outcome) Report() string {
	var b strings.Builder
	b.WriteString(o.Summary() + "\n")
	if o.Linearizable.Verdict != checker.Ok {
		b.WriteString(o.Linearizable.String())
	}
	if !o.Consensus.Ok() {
		b.WriteString(o.Consensus.String() + "\n")
	}
	if o.Protocol != nil {
		b.WriteString("protocol check: " + o.Protocol.Error() + "\n")
	}
	b.WriteString(o.Result.Report())
	return b.String()
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

// Config returns the cluster configuration of a simulated run: n nodes in
// one zone (zones > 1 spreads them), with the default tuning.
func Config(n, zones int) *paxi.Config {
	cfg := paxi.DefaultConfig()
	cfg.SetLocal(n, zones, 1735, 8081)
	return cfg
}

// NodesFor picks 3 or 5 nodes from the seed, so a seed sweep covers both.
func NodesFor(seed uint64) int { return 3 + 2*int(seed%2) }

// Vary adjusts a configuration to exercise what is particular to a
// protocol, chosen by the seed: Flexible Paxos gets the smallest phase-2
// quorum (2) with the matching phase-1 quorum (N-1), thrifty on every
// other seed; WPaxos gets 2 to 5 zones, every fz and every migration
// policy; WanKeeper, if given one zone, gets 1 to 3, so that tokens move
// between zones; VPaxos, likewise, so that objects migrate between zones.
func Vary(protocol string, cfg *paxi.Config, seed uint64) {
	switch protocol {
	case "fpaxos":
		n := cfg.N()
		cfg.Quorum = paxi.QuorumConfig{System: paxi.QuorumCount, Q1: n - 1, Q2: 2, Thrifty: seed%2 == 0}
	case "wankeeper":
		// Only a single-zone configuration is spread: a caller that
		// chose zones (paxi sim -zones) keeps them.
		if zones := 1 + int(seed/2%3); zones > 1 && len(cfg.Zones()) == 1 {
			cfg.SetLocal(cfg.N(), zones, 1735, 8081)
		}
	case "wpaxos":
		// Zones × nodes per zone, fz in [0, zones) and the migration policy.
		layout := [][2]int{{3, 1}, {3, 2}, {2, 2}, {5, 1}}[seed%4]
		cfg.SetLocal(layout[0]*layout[1], layout[0], 1735, 8081)
		policy := paxi.WPaxosPolicies[(seed/4)%3]
		cfg.WPaxos = paxi.WPaxosConfig{FZ: int(seed/12) % layout[0], Policy: policy}
		if policy == paxi.WPaxosConsecutive {
			cfg.WPaxos.Threshold = 1 + int(seed/7)%3
		}
	case "vpaxos":
		if zones := 1 + int(seed/2%3); zones > 1 && len(cfg.Zones()) == 1 {
			cfg.SetLocal(cfg.N(), zones, 1735, 8081)
		}
	}
}

// Run simulates protocol p on cfg with opts and checks the result. A
// linearizability check that takes longer than timeout is Unknown, which
// counts as a failure.
func Run(cfg *paxi.Config, p paxi.Protocol, opts sim.Options, timeout time.Duration) (*Outcome, error) {
	res, err := sim.Run(cfg, p, opts)
	if err != nil {
		return nil, err
	}
	o := &Outcome{Seed: opts.Network.Seed, Nodes: cfg.N(), Result: res}
	o.Linearizable, err = checker.Linearizable(context.Background(), res.History, checker.Options{Timeout: timeout})
	if err != nil {
		return nil, fmt.Errorf("simcheck: seed %d: %w", o.Seed, err)
	}
	o.Consensus = checker.Consensus(Histories(res.Stores), res.History)
	if p.Check != nil && res.Panic == "" {
		o.Protocol = p.Check(res.Replicas)
	}
	return o, nil
}

// Histories turns the replicas' stores into the per-replica, per-key
// version histories the agreement checker compares.
func Histories(stores map[paxi.ID]*store.Store) map[string]map[string][]store.Version {
	out := make(map[string]map[string][]store.Version, len(stores))
	for id, s := range stores {
		keys := map[string][]store.Version{}
		for _, k := range s.Keys() {
			keys[k] = s.History(k)
		}
		out[id.String()] = keys
	}
	return out
}
