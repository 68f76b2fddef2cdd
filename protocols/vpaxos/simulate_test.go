package vpaxos_test

import (
	"flag"
	"fmt"
	"testing"
	"time"

	"github.com/ailidani/paxi-style/internal/simcheck"
	"github.com/ailidani/paxi-style/paxi"
	"github.com/ailidani/paxi-style/protocols/vpaxos"
	"github.com/ailidani/paxi-style/sim"
)

var (
	wanSeeds = flag.Int("vpaxos.wan.seeds", 8, "seeds in TestSimulateWAN (the closing sweep runs 1000)")
	wanSeed  = flag.Uint64("vpaxos.wan.seed", 0, "replay only this seed in TestSimulateWAN")
	wanFirst = flag.Uint64("vpaxos.wan.first", 1, "first seed of TestSimulateWAN")
)

// wanLayouts are the clusters of the WAN sweep: zones × nodes per zone.
// Zones are the first regions of the aws5 preset.
var wanLayouts = [][2]int{{3, 1}, {3, 2}, {5, 1}, {2, 2}, {5, 2}}

// wanConfig is the cluster of one WAN seed: a layout from wanLayouts and
// the aws5 round-trip times between its zones. Election timeouts are a
// second (several WAN round trips), as a WAN deployment would set them.
func wanConfig(seed uint64) *paxi.Config {
	l := wanLayouts[seed%uint64(len(wanLayouts))]
	cfg := simcheck.Config(l[0]*l[1], l[0])
	rtt := paxi.Presets["aws5"]
	var m [][]paxi.Duration
	for i := range l[0] {
		var row []paxi.Duration
		for j := range l[0] {
			row = append(row, paxi.Duration(rtt[i][j]))
		}
		m = append(m, row)
	}
	cfg.WAN = &paxi.WAN{RTT: m}
	cfg.Heartbeat = paxi.Duration(100 * time.Millisecond)
	cfg.ElectionTimeout = paxi.Duration(time.Second)
	return cfg
}

// wanOptions are the swarm options of one WAN seed: the seed's fault mix,
// with a client timeout of 5 s, since moving an object between regions
// takes a few WAN round trips (master, previous configuration, new one,
// master again) during which its requests wait.
func wanOptions(seed uint64) sim.Options {
	o := sim.RandomOptions(seed)
	o.Workload.Timeout = 5 * time.Second
	return o
}

// registering returns the protocol with New and Recover wrapped so that
// the replicas of a run are recorded by node, the latest incarnation last.
func registering(opts vpaxos.Options) (paxi.Protocol, map[paxi.ID]*vpaxos.VPaxos) {
	reg := map[paxi.ID]*vpaxos.VPaxos{}
	p := vpaxos.ProtocolWithOptions(opts)
	newf, recf := p.New, p.Recover
	p.New = func(env paxi.Env) (paxi.Replica, error) {
		r, err := newf(env)
		if err == nil {
			reg[env.ID()] = r.(*vpaxos.VPaxos)
		}
		return r, err
	}
	p.Recover = func(env paxi.Env, d any) (paxi.Replica, error) {
		r, err := recf(env, d)
		if err == nil {
			reg[env.ID()] = r.(*vpaxos.VPaxos)
		}
		return r, err
	}
	return p, reg
}

func addStats(a, b vpaxos.Stats) vpaxos.Stats {
	a.Activated += b.Activated
	a.Fenced += b.Fenced
	a.Abandoned += b.Abandoned
	a.Moves += b.Moves
	a.Takeovers += b.Takeovers
	a.Shrinks += b.Shrinks
	return a
}

// Every seed of the WAN swarm passes every check: regions with aws5 round
// trips, 2 to 5 zones, the seed's fault mix, clients on random nodes (so
// the locality policy keeps moving objects between zones). It reports how
// often configurations changed. go test ./protocols/vpaxos -run
// TestSimulateWAN -vpaxos.wan.seeds 1000 is the long sweep.
func TestSimulateWAN(t *testing.T) {
	seeds := simcheck.Seeds(*wanSeed, *wanFirst, *wanSeeds)
	type result struct {
		fail string
		ops  int
		st   vpaxos.Stats
		err  error
	}
	results := make([]result, len(seeds))
	simcheck.Parallel(len(seeds), 0, func(i int) {
		seed := seeds[i]
		p, reg := registering(vpaxos.Options{})
		o, err := simcheck.Run(wanConfig(seed), p, wanOptions(seed), 30*time.Second)
		if err != nil {
			results[i].err = err
			return
		}
		for _, r := range reg {
			results[i].st = addStats(results[i].st, r.Stats())
		}
		results[i].ops = len(o.Result.History)
		if o.Failed() {
			results[i].fail = o.Report()
		}
	})
	var st vpaxos.Stats
	ops, failed := 0, 0
	for i, r := range results {
		if r.err != nil {
			t.Fatal(r.err)
		}
		ops += r.ops
		st = addStats(st, r.st)
		if r.fail != "" {
			failed++
			t.Errorf("seed %d failed; replay: go test ./protocols/vpaxos -run TestSimulateWAN -vpaxos.wan.seed=%d\n%s", seeds[i], seeds[i], r.fail)
		}
	}
	t.Logf("%d WAN seeds, %d failed, %d client operations checked; %s", len(seeds), failed, ops, statsString(st))
}

func statsString(s vpaxos.Stats) string {
	return fmt.Sprintf("ballots activated %d, primaries fenced %d, ballots abandoned %d, moves %d, takeovers %d, shrinks %d",
		s.Activated, s.Fenced, s.Abandoned, s.Moves, s.Takeovers, s.Shrinks)
}
